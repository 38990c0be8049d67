#pragma once
// Turning feature shards into what the probe consumes: stacked features and ground truth
// normalised as VGGT trains (first camera = identity, mean distance of the valid points of the
// first or of every view = 1), with the GT pose encoding of the normalised cameras.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "vidprobe/features/feature_cache.h"
#include "vidprobe/geometry/normalization.h"
#include "vidprobe/probe/losses.h"

namespace vidprobe::probe {

struct ProbeBatch {
  torch::Tensor features;                       // (B, S, C, h, w) as stored (fp16 or fp32)
  ProbeTargets targets;                         // normalised GT
  torch::Tensor scale;                          // (B) the factor GT was divided by
  torch::Tensor extrinsics, intrinsics, depth;  // raw GT (B, S, ...) for the metrics
  std::vector<std::string> clip_ids;
  int64_t height() const { return targets.depth.size(2); }
  int64_t width() const { return targets.depth.size(3); }
};

// The shapes a probe run is tied to (written to the run directory). `frames` is what the probe
// reads per clip: the stored frames, or the views it draws from them.
struct ClipGeometry {
  int64_t frames = 0, feature_dim = 0, grid_h = 0, grid_w = 0, height = 0, width = 0;
  bool operator==(const ClipGeometry&) const = default;
  std::string describe() const;
};
ClipGeometry clip_geometry(const features::FeatureShard& shard);

// depth (B, S, H, W), valid (B, S, H, W) bool, confidence (B, S, H, W), extrinsics (B, S, 3, 4),
// intrinsics (B, S, 3, 3).
ProbeTargets normalized_targets(const torch::Tensor& depth, const torch::Tensor& valid,
                                const torch::Tensor& confidence, const torch::Tensor& extrinsics,
                                const torch::Tensor& intrinsics,
                                geometry::ScaleFrom scale_from = geometry::ScaleFrom::kAllViews,
                                torch::Tensor* scale_out = nullptr);

// Stacks shards of identical geometry, one feature map per frame (an Error names the first clip
// that differs).
ProbeBatch make_batch(const std::vector<features::FeatureShard>& shards,
                      geometry::ScaleFrom scale_from = geometry::ScaleFrom::kAllViews);

}  // namespace vidprobe::probe
