// Feature extraction throughput of the checkpoint-backed backbones at ViT-L size with random
// weights: DINOv2 ViT-L/14 (the clip's frames as a batch of images at 224 px), VideoMAE-L
// (224 px) and V-JEPA 2 ViT-L (256 px), each up to its default (last) block, as `vidprobe
// extract` runs them per clip. bench/backbones_reference.py runs transformers' own models on the
// same input sizes for the ratio.
//
// Prints one JSON line per backbone: clips/s, ms/clip, FLOPs of the blocks run (counted by
// nn::StageMeter on one more clip) and MFU against 989 TFLOP/s (H100/H200 dense bf16). Run:
//   vidprobe_bench --benchmark_filter=BackboneExtract
// Knobs (environment): VIDPROBE_BACKBONE_BENCH_DEVICE (cuda; cpu also works, slowly),
// VIDPROBE_BACKBONE_BENCH_DTYPE (bf16 | fp16 | fp32), VIDPROBE_BACKBONE_BENCH_FRAMES (16),
// VIDPROBE_BACKBONE_BENCH_ITERS (5), VIDPROBE_BACKBONE_BENCH_SIZE (HxW frames, e.g. DINOv2 at the
// paper's 420x728, for a family that takes --backbone-opt size; the others skip when it is set).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/backbones/registry.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/stage_meter.h"

namespace {
using namespace vidprobe::backbones;

const std::vector<std::string> kBackbones = {"dinov2-vitl14", "videomae-large",
                                             "vjepa2-vitl-fpc64-256"};

// Whether the backbone's family takes `key` as a --backbone-opt setting (the registry's list).
bool takes_option(const std::string& backbone, const std::string& key) {
  const auto& keys = find_backbone(backbone).options.keys;
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string env_string(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

int env_int(const char* name, int fallback) {
  return std::stoi(env_string(name, std::to_string(fallback)));
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

void BM_BackboneExtract(benchmark::State& state) {
  const std::string name = kBackbones.at(static_cast<std::size_t>(state.range(0)));
  const std::string size = env_string("VIDPROBE_BACKBONE_BENCH_SIZE", "");
  if (!size.empty() && !takes_option(name, "size")) {
    const std::string why = name + " runs at its native size only (VIDPROBE_BACKBONE_BENCH_SIZE)";
    state.SkipWithError(why.c_str());
    return;
  }
  const torch::Device device(env_string("VIDPROBE_BACKBONE_BENCH_DEVICE", "cuda"));
  if (device.is_cuda() && !torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device (VIDPROBE_BACKBONE_BENCH_DEVICE=cpu runs on the CPU)");
    return;
  }
  const std::string dtype_name = env_string("VIDPROBE_BACKBONE_BENCH_DTYPE", "bf16");
  const int frames = env_int("VIDPROBE_BACKBONE_BENCH_FRAMES", 16);
  BackboneOptions options;
  options.random_init = true;
  options.device = device;
  options.dtype = vidprobe::nn::parse_dtype(dtype_name, "VIDPROBE_BACKBONE_BENCH_DTYPE");
  if (!size.empty()) options.extra["size"] = size;
  auto backbone = create_backbone(name, options);
  const auto spec = backbone->input_spec();
  const auto point = backbone->default_point();
  torch::manual_seed(0);
  const auto clip = torch::rand({frames, 3, spec.height, spec.width}).to(device);
  // No autograd bookkeeping at all (less dispatch work per kernel), as torch.inference_mode().
  c10::InferenceMode inference;
  for (int i = 0; i < 2; ++i) backbone->extract(clip, point);  // warm-up (kernels, allocator)
  synchronize(device);

  double seconds = 0;
  int64_t clips = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const auto maps = backbone->extract(clip, point);
    benchmark::DoNotOptimize(maps.features.data_ptr());
    synchronize(device);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    ++clips;
  }
  double flops = 0;  // the transformer stage's, counted on one more clip (nn/stage_meter.h)
  {
    vidprobe::nn::StageMeter meter(device);
    backbone->extract(clip, point);
    flops = meter.stage(vidprobe::nn::kTransformerStage).flops;
  }
  const nlohmann::json line = {
      {"bench", "backbone_extract"},
      {"impl", "vidprobe"},
      {"backbone", name},
      {"device", device.str()},
      {"dtype", dtype_name},
      {"frames", frames},
      {"height", spec.height},
      {"width", spec.width},
      {"blocks_run", point.layer + 1},
      {"iterations", clips},
      {"clips_per_s", clips / seconds},
      {"ms_per_clip", 1000 * seconds / clips},
      {"tflop_per_clip", flops / 1e12},
      {"mfu", flops * clips / seconds / vidprobe::nn::kHopperDenseBf16Flops}};
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
  state.counters["clips/s"] = clips / seconds;
  state.SetLabel(name);
}
BENCHMARK(BM_BackboneExtract)
    ->DenseRange(0, 2)
    ->Iterations(env_int("VIDPROBE_BACKBONE_BENCH_ITERS", 5))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
