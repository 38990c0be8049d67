#include "vidprobe/probe/batch.h"

#include "vidprobe/core/error.h"
#include "vidprobe/geometry/camera.h"
#include "vidprobe/geometry/normalization.h"

namespace vidprobe::probe {
namespace {

std::vector<int64_t> all_frames(int64_t frames) {
  std::vector<int64_t> out(static_cast<std::size_t>(frames));
  for (int64_t t = 0; t < frames; ++t) out[static_cast<std::size_t>(t)] = t;
  return out;
}

}  // namespace

std::string ClipGeometry::describe() const {
  return std::to_string(frames) + " frames of " + std::to_string(feature_dim) + " x " +
         std::to_string(grid_h) + " x " + std::to_string(grid_w) + " features, GT " +
         std::to_string(height) + " x " + std::to_string(width);
}

ClipGeometry clip_geometry(const features::FeatureShard& shard) {
  return {shard.num_frames(),     shard.features.size(1), shard.features.size(2),
          shard.features.size(3), shard.depth.size(1),    shard.depth.size(2)};
}

ProbeTargets normalized_targets(const torch::Tensor& depth, const torch::Tensor& valid,
                                const torch::Tensor& confidence, const torch::Tensor& extrinsics,
                                const torch::Tensor& intrinsics, geometry::ScaleFrom scale_from,
                                torch::Tensor* scale_out) {
  const auto d = depth.to(torch::kFloat32);
  const auto v = valid.to(torch::kBool) & torch::isfinite(d) & d.gt(0);
  const auto e = extrinsics.to(torch::kFloat32);
  const auto k = intrinsics.to(torch::kFloat32);
  const auto clean_depth = torch::where(v, d, torch::zeros_like(d));
  const auto points = geometry::depth_to_world_points(clean_depth, k, e);
  const auto scene = geometry::normalize_scene(e, clean_depth, points, v, scale_from);
  ProbeTargets t;
  t.depth = scene.depth.to(torch::kFloat32);
  t.world_points = scene.world_points.to(torch::kFloat32);
  t.valid = v;
  t.confidence = torch::where(v, confidence.to(torch::kFloat32), torch::zeros({}, d.options()));
  t.pose_encoding = geometry::extrinsics_intrinsics_to_pose_encoding(
                        scene.extrinsics.to(torch::kFloat32), k, d.size(-2), d.size(-1))
                        .to(torch::kFloat32);
  t.extrinsics = scene.extrinsics.to(torch::kFloat32);
  if (scale_out) *scale_out = scene.scale.to(torch::kFloat32);
  return t;
}

ProbeBatch make_batch(const std::vector<features::FeatureShard>& shards,
                      geometry::ScaleFrom scale_from) {
  require(!shards.empty(), "make_batch: no clips");
  const auto geometry = clip_geometry(shards.front());
  std::vector<torch::Tensor> features, depth, valid, confidence, extrinsics, intrinsics;
  ProbeBatch batch;
  for (const auto& stored : shards) {
    // One map per frame: a shard whose maps serve several frames is expanded.
    const auto shard = stored.feature_index.defined()
                           ? features::select_frames(stored, all_frames(stored.num_frames()))
                           : stored;
    const auto g = clip_geometry(shard);
    require(g == geometry, "clip '" + shard.clip_id + "' has " + g.describe() + " but clip '" +
                               shards.front().clip_id + "' has " + geometry.describe() +
                               "; a probe needs clips of one shape");
    features.push_back(shard.features);
    depth.push_back(shard.depth.to(torch::kFloat32));
    valid.push_back(shard.valid.to(torch::kBool));
    confidence.push_back(shard.gt_confidence());
    extrinsics.push_back(shard.extrinsics.to(torch::kFloat32));
    intrinsics.push_back(shard.intrinsics.to(torch::kFloat32));
    batch.clip_ids.push_back(shard.clip_id);
  }
  batch.features = torch::stack(features);
  batch.depth = torch::stack(depth);
  batch.extrinsics = torch::stack(extrinsics);
  batch.intrinsics = torch::stack(intrinsics);
  batch.targets = normalized_targets(batch.depth, torch::stack(valid), torch::stack(confidence),
                                     batch.extrinsics, batch.intrinsics, scale_from, &batch.scale);
  return batch;
}

}  // namespace vidprobe::probe
