// The fused residual norm (nn/residual_norm.h's runtime kernel: stream + update, then LayerNorm
// with weight and bias, one pass) against libtorch's add and LayerNorm on the same bf16 rows, in
// the same process: the encoders' exchange of docs/perf.md ("Re-measured on an H100 ... sixth
// session"), where the kernel ran 11.3 us a call at VideoMAE-L's 1,568 rows of 1,024 and
// libtorch's LayerNorm 5.6. Per (rows, width): kRepeats calls of each side under the CUDA
// profiler, the kernels' device time per call from its records (no launch gaps, no host time).
// Counters: fused_us, libtorch_us (the add and the LayerNorm), libtorch_over_fused (above 1: the
// kernel is faster), and each side's DRAM-equivalent GB/s (the bytes it must move: the fused
// pass reads stream and update and writes stream and normed rows; libtorch's add reads two and
// writes one, its LayerNorm reads one and writes one), and a JSON line per case on stdout. CUDA
// only; skipped without a device. Before/after a kernel change (both builds, in turns):
//   bash scripts/gpu-ab.sh OUT change.patch vidprobe_bench 2 -- {bin} \
//     --benchmark_filter=ResidualNormKernels
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "vidprobe/nn/kernel_profile.h"
#include "vidprobe/nn/residual_norm.h"

namespace {

constexpr int kRepeats = 50;
constexpr double kEps = 1e-6;

struct SideTimes {
  double fused_ms = 0.0;     // nn/residual_norm.h's kernels
  double libtorch_ms = 0.0;  // every other kernel of the profiled work
};

SideTimes profiled_side_times(const std::function<void()>& fused,
                              const std::function<void()>& libtorch) {
  const auto profile = vidprobe::nn::profile_kernels(
      [&] {
        for (int i = 0; i < kRepeats; ++i) fused();
        for (int i = 0; i < kRepeats; ++i) libtorch();
        torch::cuda::synchronize();
      },
      /*cuda=*/true);
  SideTimes times;
  for (const auto& kernel : profile.all.kernels)
    (vidprobe::nn::is_residual_norm_kernel(kernel.name) ? times.fused_ms : times.libtorch_ms) +=
        kernel.total_ms;
  return times;
}

void BM_ResidualNormKernels(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t rows = state.range(0), width = state.range(1);
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const auto bf16 = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  const auto stream = torch::randn({1, rows, width}, bf16);
  const auto update = torch::randn({1, rows, width}, bf16);
  const auto weight = torch::randn({width}, bf16), bias = torch::randn({width}, bf16);
  const auto weight32 = weight.to(torch::kFloat32), bias32 = bias.to(torch::kFloat32);
  const vidprobe::nn::ResidualUpdate pending{stream, update};
  if (!vidprobe::nn::residual_norm_uses_runtime_kernel(
          pending, vidprobe::nn::NormScale::kModulation, weight32, bias32, torch::kBFloat16)) {
    state.SkipWithError("the runtime kernel does not take these rows");
    return;
  }
  // nn::Block's two forms of one norm: the kernel as add_and_norm calls it, libtorch's steps.
  const auto fused = [&] {
    benchmark::DoNotOptimize(vidprobe::nn::residual_norm_on_runtime_kernel(
        pending, vidprobe::nn::NormScale::kModulation, weight32, bias32, kEps, torch::kBFloat16));
  };
  const auto libtorch = [&] {
    benchmark::DoNotOptimize(torch::layer_norm(stream + update, {width}, weight, bias, kEps));
  };
  profiled_side_times(fused, libtorch);  // compiles the kernel, warms the allocator
  SideTimes times;
  for (auto _ : state) {
    times = profiled_side_times(fused, libtorch);
    state.SetIterationTime(times.fused_ms / 1e3 / kRepeats);
  }
  // The split is by the entry points' names (nn::is_residual_norm_kernel): a kernel renamed in
  // the source but not in its table would count as libtorch's and leave no ratio.
  if (times.fused_ms <= 0.0 || times.libtorch_ms <= 0.0) {
    state.SkipWithError("the profile holds no nn/residual_norm.h kernel, or no other: no ratio");
    return;
  }
  const double fused_us = times.fused_ms * 1e3 / kRepeats;
  const double libtorch_us = times.libtorch_ms * 1e3 / kRepeats;
  const double row_bytes = static_cast<double>(rows * width * 2);  // one bf16 (rows, width)
  state.counters["fused_us"] = fused_us;
  state.counters["libtorch_us"] = libtorch_us;
  state.counters["libtorch_over_fused"] = libtorch_us / fused_us;
  state.counters["fused_GBps"] = 4 * row_bytes / (fused_us * 1e3);
  state.counters["libtorch_GBps"] = 5 * row_bytes / (libtorch_us * 1e3);
  // One JSON line per case as well, for scripts/gpu-ab.sh's ab.jsonl and docs/results/.
  std::cout << nlohmann::json{{"benchmark", "residual_norm_kernels"},
                              {"rows", rows},
                              {"width", width},
                              {"dtype", "bf16"},
                              {"calls", kRepeats},
                              {"fused_us", fused_us},
                              {"libtorch_us", libtorch_us},
                              {"libtorch_over_fused", libtorch_us / fused_us}}
                   .dump()
            << std::endl;
}
// Rows of 1,024: VideoMAE-L, V-JEPA 2-L and DINOv2-L at 16 frames (1,568, 2,048, 4,112), then
// larger; rows of 3,072: CogVideoX-5B's width.
BENCHMARK(BM_ResidualNormKernels)
    ->ArgsProduct({{1568, 2048, 4112, 8192, 16384}, {1024, 3072}})
    ->ArgNames({"rows", "width"})
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
