// Metric costs at evaluation sizes: chamfer/point metrics on a 20k-point clip (the default
// subsampling cap) and camera metrics on a 24-frame clip (276 pairs).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "vidprobe/geometry/camera.h"
#include "vidprobe/metrics/camera_metrics.h"
#include "vidprobe/metrics/point_metrics.h"

namespace {

torch::Device bench_device(int64_t use_cuda) {
  return use_cuda != 0 ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

void BM_Chamfer20k(benchmark::State& state) {
  const auto device = bench_device(state.range(0));
  if (device.is_cuda() && !torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  torch::manual_seed(0);
  const auto a = torch::randn({20000, 3}, torch::kDouble).to(device);
  const auto b = (a + 0.01 * torch::randn({20000, 3}, torch::kDouble).to(device));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        vidprobe::metrics::mean_nearest_neighbour_distance(a, b).item<double>());
  }
  state.SetItemsProcessed(state.iterations() * 20000);
}
BENCHMARK(BM_Chamfer20k)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_PointMetrics20k(benchmark::State& state) {
  const auto device = bench_device(state.range(0));
  if (device.is_cuda() && !torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  torch::manual_seed(0);
  // A 24-frame clip of 29 x 29 point maps: 20184 points, all valid, so nothing is subsampled.
  const auto gt = torch::randn({24, 29, 29, 3}, torch::kFloat).to(device);
  const auto pred = (2 * gt + 0.05 * torch::randn_like(gt));
  const auto valid = torch::ones({24, 29, 29}, torch::kBool).to(device);
  for (auto _ : state) {
    benchmark::DoNotOptimize(vidprobe::metrics::point_metrics(pred, gt, valid).chamfer);
  }
}
BENCHMARK(BM_PointMetrics20k)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_CameraMetrics24Frames(benchmark::State& state) {
  torch::manual_seed(0);
  auto quaternion = torch::randn({24, 4}, torch::kDouble);
  const auto rotation = vidprobe::geometry::quaternion_to_rotation(quaternion);
  const auto gt = torch::cat({rotation, torch::randn({24, 3, 1}, torch::kDouble)}, -1);
  const auto pred = (gt + 0.01 * torch::randn_like(gt)).to(torch::kFloat);
  for (auto _ : state) {
    benchmark::DoNotOptimize(vidprobe::metrics::camera_metrics(pred, gt));
  }
}
BENCHMARK(BM_CameraMetrics24Frames)->Unit(benchmark::kMicrosecond);

}  // namespace
