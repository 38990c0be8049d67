// Probe training speed (steps/s) on the CPU: the vidprobe preset's probe at a ViT-L-like input
// (1024 channels, 16 x 16 tokens, 4 frames, 112 x 112 GT, batch 2), and a small probe.
// bench/probe_reference.py times the same step in PyTorch Python. The paper's (vidfm3d) probe
// is timed against the authors' code by `vidprobe bench probe --reference --checkout DIR`.
#include "vidprobe/probe/probe_bench.h"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

namespace {

void BM_ProbeTrainStepDefault(benchmark::State& state) {
  vidprobe::probe::ProbeBenchOptions options;
  options.preset = "vidprobe";
  options.warmup = 1;
  options.steps = 1;
  for (auto _ : state) {
    const auto result = vidprobe::probe::run_probe_benchmark(options);
    state.SetIterationTime(result.at("ms_per_step").get<double>() / 1000.0);
    state.counters["params"] = result.at("parameters").get<double>();
  }
}
BENCHMARK(BM_ProbeTrainStepDefault)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_ProbeTrainStepSmallInput(benchmark::State& state) {
  vidprobe::probe::ProbeBenchOptions options;
  options.preset = "vidprobe";
  options.feature_dim = 384;
  options.grid_h = options.grid_w = 8;
  options.height = options.width = 32;
  options.warmup = 1;
  options.steps = 2;
  for (auto _ : state) {
    const auto result = vidprobe::probe::run_probe_benchmark(options);
    state.SetIterationTime(result.at("ms_per_step").get<double>() / 1000.0);
  }
}
BENCHMARK(BM_ProbeTrainStepSmallInput)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace

namespace {

// The paper-scale step on a GPU (bf16 autocast): batch 8 clips of 4 frames, ViT-L-like features
// (1024 channels, 16 x 16 tokens), GT 224 x 224. Compare with
//   python3 bench/probe_reference.py --device cuda --batch 8 --size 224 --steps 20 --warmup 3
void BM_ProbeTrainStepCuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  vidprobe::probe::ProbeBenchOptions options;
  options.preset = "vidprobe";
  options.device = torch::Device(torch::kCUDA);
  options.batch = 8;
  options.height = options.width = 224;
  options.warmup = 3;
  options.steps = 20;
  for (auto _ : state) {
    const auto result = vidprobe::probe::run_probe_benchmark(options);
    state.SetIterationTime(result.at("ms_per_step").get<double>() / 1000.0);
    state.counters["steps_per_s"] = result.at("steps_per_s").get<double>();
  }
}
BENCHMARK(BM_ProbeTrainStepCuda)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
