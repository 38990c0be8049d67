#pragma once
// Point-map metrics. The prediction is first aligned to the GT with the Sim(3) (Umeyama) that
// best maps predicted valid points onto their GT counterparts (all valid points, float64), then:
//   err          = mean Euclidean distance between aligned predicted and GT points (valid pixels);
//   accuracy     = mean distance from each aligned predicted point to its nearest GT point;
//   completeness = mean distance from each GT point to its nearest aligned predicted point;
//   chamfer      = (accuracy + completeness) / 2.
// Nearest neighbours are brute force in chunks with torch::cdist (by default at most 2^24
// distances at a time, so memory stays bounded), so the same code runs on CPU and GPU; clouds
// larger than max_points are subsampled (the same pixels for both clouds) with a fixed seed,
// reproducibly.
//
// Edge cases: non-finite GT points are invalid; non-finite predicted points at valid pixels throw
// vidprobe::Error naming pred. Fewer than 3 valid points (no alignment possible) score all zeros
// with valid_points = 0: the clip is excluded, as one without valid points. A collapsed
// prediction (all valid predicted points identical) is aligned onto the GT centroid (the best
// Sim(3) then has scale 0) and scores accordingly; GT points all identical throw vidprobe::Error.
#include <torch/types.h>

#include <cstdint>

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

// Mean nearest-neighbour distance from each point of a (N, 3) to b (M, 3), as a 0-dim float64
// tensor on a's device. N, M >= 1. The neighbour is found on cdist's fast (matrix-product)
// distances and its distance recomputed exactly, so coincident clouds give ~1e-16, not ~1e-8.
// max_distances_per_chunk bounds the size of one cdist block (memory ~ 8 bytes each).
torch::Tensor mean_nearest_neighbour_distance(const torch::Tensor& a, const torch::Tensor& b,
                                              std::int64_t max_distances_per_chunk = 1 << 24);

}  // namespace vidprobe::metrics
