#pragma once
// Ground-truth normalisation as VGGT trains with it: express everything in the first camera's
// frame, then divide translations, depths and points by the mean distance of the valid points
// (of every view, or of the first view: ScaleFrom) from the origin (the first camera's centre).
//
// Differences from VGGT's training code (training/train_utils/normalization.py), all negligible or
// edge cases: VGGT divides the distance sum by (valid count + 1e-3) and clamps the scale to
// [1e-6, 1e6]; here the mean is exact, computed in float64, and a batch element whose valid points
// are absent or all at the first camera's centre (mean distance <= 1e-12) keeps scale 1.
#include <torch/types.h>

namespace vidprobe::geometry {

// Which points set the scale. The paper's protocol (the authors' invert_pose_ref_and_scale) uses
// the first view's points only; VGGT's training uses every view's.
enum class ScaleFrom { kAllViews, kFirstView };

struct NormalizedScene {
  torch::Tensor extrinsics;    // (B, S, 3, 4), first camera = identity
  torch::Tensor depth;         // (B, S, H, W)
  torch::Tensor world_points;  // (B, S, H, W, 3) in the first camera's frame
  torch::Tensor scale;         // (B) the factor everything was divided by
};

// extrinsics (B, S, 3, 4), depth (B, S, H, W), world_points (B, S, H, W, 3), valid (B, S, H, W)
// bool. A batch element with no valid point gets scale 1 (documented, not an error). Depth is a
// camera-frame z, unchanged by the change of world frame, so it is only divided by the scale.
// Outputs keep the inputs' dtypes. Throws vidprobe::Error for mismatched shapes, non-finite
// extrinsics, or non-finite world points / depth at valid pixels (invalid pixels may hold
// anything, NaN included, and are transformed as they are).
NormalizedScene normalize_scene(const torch::Tensor& extrinsics, const torch::Tensor& depth,
                                const torch::Tensor& world_points, const torch::Tensor& valid,
                                ScaleFrom scale_from = ScaleFrom::kAllViews);

}  // namespace vidprobe::geometry
