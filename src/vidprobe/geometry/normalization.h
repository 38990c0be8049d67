#pragma once
// Ground-truth normalisation as VGGT trains with it: express everything in the first camera's
// frame, then divide translations, depths and points by the mean distance of the valid points
// from the origin (the first camera's centre).
#include <torch/types.h>

namespace vidprobe::geometry {

struct NormalizedScene {
  torch::Tensor extrinsics;    // (B, S, 3, 4), first camera = identity
  torch::Tensor depth;         // (B, S, H, W)
  torch::Tensor world_points;  // (B, S, H, W, 3) in the first camera's frame
  torch::Tensor scale;         // (B) the factor everything was divided by
};

// extrinsics (B, S, 3, 4), depth (B, S, H, W), world_points (B, S, H, W, 3), valid (B, S, H, W)
// bool. A batch element with no valid point gets scale 1 (documented, not an error).
NormalizedScene normalize_scene(const torch::Tensor& extrinsics, const torch::Tensor& depth,
                                const torch::Tensor& world_points, const torch::Tensor& valid);

}  // namespace vidprobe::geometry
