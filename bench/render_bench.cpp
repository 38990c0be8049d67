// Renderer throughput: frames/s and rays/s for 256 x 256 clips with shadows (the goal is at
// least 50 frames/s on the 2-core development machine). The BVH build is included once per clip
// of 16 frames, as in `vidprobe render`; PNG encoding is measured separately.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/render/clip.h"

namespace {
using namespace vidprobe;
using namespace vidprobe::render;

RenderSettings bench_settings(Family family, bool shadows) {
  RenderSettings settings;
  settings.generation.family = family;
  settings.generation.frames = 16;
  settings.generation.width = 256;
  settings.generation.height = 256;
  settings.generation.seed = 1;
  settings.shading.shadows = shadows;
  settings.threads = 0;
  return settings;
}

void BM_RenderClip(benchmark::State& state) {
  const auto family = static_cast<Family>(state.range(0));
  RenderSettings settings = bench_settings(family, state.range(1) != 0);
  settings.threads = static_cast<int>(state.range(2));
  const RenderAssets assets;
  RenderStats stats;
  int clip_index = 0;
  std::int64_t frames = 0;
  for (auto _ : state) {
    const Clip clip = render_clip(settings, assets, clip_index++ % 8, &stats);
    frames += static_cast<std::int64_t>(clip.frames.size());
    benchmark::DoNotOptimize(clip.frames.back().rgb.pixels.data());
  }
  state.counters["frames/s"] =
      benchmark::Counter(static_cast<double>(frames), benchmark::Counter::kIsRate);
  state.counters["rays/s"] =
      benchmark::Counter(static_cast<double>(stats.rays), benchmark::Counter::kIsRate);
  state.SetLabel(
      family_name(family) + (state.range(1) ? " shadows" : " no shadows") + ", " +
      (settings.threads ? std::to_string(settings.threads) + " thread(s)" : "all cores"));
}
BENCHMARK(BM_RenderClip)
    // (family, shadows, threads); threads = 0: all cores. The single-thread runs give the
    // per-core cost, which a loaded shared machine does not distort as much as wall time.
    ->Args({static_cast<int>(Family::kObjects), 1, 0})
    ->Args({static_cast<int>(Family::kScenes), 1, 0})
    ->Args({static_cast<int>(Family::kObjects), 0, 0})
    ->Args({static_cast<int>(Family::kObjects), 1, 1})
    ->Args({static_cast<int>(Family::kScenes), 1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_WriteClip(benchmark::State& state) {
  const RenderSettings settings = bench_settings(Family::kObjects, true);
  const Clip clip = render_clip(settings, RenderAssets{}, 0);
  const auto root = std::filesystem::temp_directory_path() / "vidprobe_render_bench";
  std::int64_t frames = 0;
  for (auto _ : state) {
    write_synthetic_clip(root, clip);
    frames += static_cast<std::int64_t>(clip.frames.size());
  }
  std::filesystem::remove_all(root);
  state.counters["frames/s"] =
      benchmark::Counter(static_cast<double>(frames), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WriteClip)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
