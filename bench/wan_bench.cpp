// WAN2.1 feature extraction at real size with random weights on the GPU: one clip of 17 frames at
// 480x832 through the VAE encoder (float32) and the DiT (bf16) up to the default middle block,
// as `vidprobe extract` does per clip. bench/wan_reference.py does the same work with diffusers.
//
// Prints one JSON line per variant: clips/s, VAE and DiT milliseconds, the DiT's FLOPs and its MFU
// (DiT FLOPs / DiT time / 989 TFLOP/s, H100 dense bf16). Run:
//   vidprobe_bench --benchmark_filter=WanExtract
// Knobs (environment): VIDPROBE_WAN_BENCH_FRAMES (17), VIDPROBE_WAN_SIZE (480x832),
// VIDPROBE_WAN_BENCH_LAYER (the middle block), VIDPROBE_WAN_BENCH_ITERS (3).
#include <ATen/DeviceAccelerator.h>
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "vidprobe/backbones/wan/backbone.h"
#include "vidprobe/nn/stage_meter.h"

namespace {
using namespace vidprobe::backbones;

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::stoi(value) : fallback;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  torch::cuda::synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void BM_WanExtract(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const std::string variant = state.range(0) == 0 ? "wan2.1-t2v-1.3b" : "wan2.1-t2v-14b";
  const int frames = env_int("VIDPROBE_WAN_BENCH_FRAMES", 17);
  BackboneOptions options;
  options.random_init = true;
  options.device = torch::Device(torch::kCUDA);
  options.dtype = torch::kBFloat16;
  std::map<std::string, std::string> extra;
  if (const char* size = std::getenv("VIDPROBE_WAN_SIZE")) extra["size"] = size;
  const auto feature_options = wan::feature_options_from(variant, extra);
  auto created = wan::make_wan_backbone(variant, options, feature_options);
  // The peak restarts from what is allocated now (this variant's weights), so the other variant's
  // run does not count. (Before any CUDA allocation the allocator rejects the call.)
  at::accelerator::resetPeakStats(0);
  auto& backbone = dynamic_cast<wan::WanBackbone&>(*created);
  const auto spec = backbone.input_spec();
  auto point = backbone.default_point();
  point.layer = env_int("VIDPROBE_WAN_BENCH_LAYER", point.layer);
  torch::manual_seed(0);
  const auto clip = torch::rand({frames, 3, spec.height, spec.width}).to(options.device);
  // No autograd bookkeeping at all (less dispatch work per kernel), as torch.inference_mode().
  c10::InferenceMode inference;
  backbone.extract_at(backbone.encode(clip), frames, {point});  // warm-up (cuDNN, allocator)
  torch::cuda::synchronize();

  double vae_seconds = 0, dit_seconds = 0;
  int64_t clips = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const auto latents = backbone.encode(clip);
    const double vae = seconds_since(start);
    const auto middle = std::chrono::steady_clock::now();
    const auto maps = backbone.extract_at(latents, frames, {point});
    benchmark::DoNotOptimize(maps.front().features.data_ptr());
    const double dit = seconds_since(middle);
    state.SetIterationTime(vae + dit);
    vae_seconds += vae;
    dit_seconds += dit;
    ++clips;
  }
  const auto& config = backbone.transformer().config();
  const int64_t latent_frames = (frames - 1) / 4 + 1;
  const int64_t tokens = latent_frames * (spec.height / 16) * (spec.width / 16);
  const double flops = wan::transformer_flops(config, tokens, wan::kTextLength, point.layer + 1);
  const double total = vae_seconds + dit_seconds;
  const nlohmann::json line = {
      {"bench", "wan_extract"},
      {"impl", "vidprobe"},
      {"variant", variant},
      {"frames", frames},
      {"height", spec.height},
      {"width", spec.width},
      {"layer", point.layer},
      {"blocks_run", point.layer + 1},
      {"timestep", *point.timestep},
      {"tokens", tokens},
      {"dit_dtype", "bf16"},
      {"vae_dtype", "fp32"},
      {"iterations", clips},
      {"clips_per_s", clips / total},
      {"ms_per_clip", 1000 * total / clips},
      {"vae_ms", 1000 * vae_seconds / clips},
      {"dit_ms", 1000 * dit_seconds / clips},
      {"dit_tflop", flops / 1e12},
      {"dit_mfu", flops * clips / dit_seconds / vidprobe::nn::kHopperDenseBf16Flops},
      {"end_to_end_mfu", flops * clips / total / vidprobe::nn::kHopperDenseBf16Flops},
      {"weights_gb", static_cast<double>(backbone.transformer().parameters().bytes()) / 1e9},
      // Allocator peak of this variant: weights, VAE and the activations of an extraction.
      {"peak_allocated_gb",
       static_cast<double>(at::accelerator::getDeviceStats(0).allocated_bytes[0].peak) / 1e9}};
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
  state.counters["clips/s"] = clips / total;
  state.counters["dit_mfu"] = flops * clips / dit_seconds / vidprobe::nn::kHopperDenseBf16Flops;
  state.SetLabel(variant);
}
BENCHMARK(BM_WanExtract)
    ->Arg(0)
    ->Arg(1)
    ->Iterations(env_int("VIDPROBE_WAN_BENCH_ITERS", 3))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
