#pragma once
// Point-map metrics. The prediction is first aligned to the GT with the Sim(3) (Umeyama) that
// best maps predicted valid points onto their GT counterparts, then:
//   err          = mean Euclidean distance between aligned predicted and GT points (valid pixels);
//   accuracy     = mean distance from each aligned predicted point to its nearest GT point;
//   completeness = mean distance from each GT point to its nearest aligned predicted point;
//   chamfer      = (accuracy + completeness) / 2.
// Nearest neighbours are brute force in chunks with torch::cdist, so the same code runs on CPU
// and GPU; clouds larger than max_points are subsampled with a fixed seed.
#include <torch/types.h>

namespace vidprobe::metrics {

struct PointScores {
  double err = 0;
  double accuracy = 0;
  double completeness = 0;
  double chamfer = 0;
  std::int64_t valid_points = 0;  // 0 -> the clip is excluded from averages
};

// pred, gt (S, H, W, 3) or (N, 3); valid (S, H, W) or (N) bool.
PointScores point_metrics(const torch::Tensor& pred, const torch::Tensor& gt,
                          const torch::Tensor& valid, std::int64_t max_points = 20000,
                          std::uint64_t seed = 0);

// Mean nearest-neighbour distance from each point of a (N, 3) to b (M, 3).
torch::Tensor mean_nearest_neighbour_distance(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace vidprobe::metrics
