#include "vidprobe/probe/probe_model.h"

#include "vidprobe/core/error.h"
#include "vidprobe/nn/device.h"

namespace vidprobe::probe {

ProbeModelImpl::ProbeModelImpl(const ProbeConfig& cfg, int64_t feature_dim_)
    : config(cfg), feature_dim(feature_dim_) {
  validate(config);
  const auto& m = config.model;
  const auto& h = config.heads;
  const int64_t token_dim = 2 * m.width;  // frame and global outputs concatenated
  aggregator = register_module("aggregator", Aggregator(m, feature_dim));
  point_head = register_module("point_head", nn::DptHead(h.dense, token_dim, 4, m.num_blocks,
                                                         h.point_activation, h.conf_activation));
  depth_head = register_module("depth_head", nn::DptHead(h.dense, token_dim, 2, m.num_blocks,
                                                         h.depth_activation, h.conf_activation));
  camera_head = register_module(
      "camera_head",
      nn::CameraHead(h.camera, token_dim, m.num_heads, m.mlp_ratio, m.global_attention,
                     /*trunc_normal_init=*/m.init == "trunc_normal"));
}

nn::GeometryPrediction ProbeModelImpl::forward(const torch::Tensor& features, int64_t height,
                                               int64_t width) {
  require(height > 0 && width > 0, "probe: output resolution must be positive");
  auto trunk = aggregator(features);
  // The heads run in fp32 with autocast off (VGGT does the same).
  nn::AutocastDisabledGuard fp32_heads;
  for (auto& tokens : trunk.intermediates) tokens = tokens.to(torch::kFloat32);
  const int64_t h = features.size(3), w = features.size(4);
  nn::GeometryPrediction out;
  std::tie(out.world_points, out.world_points_conf) =
      point_head(trunk.intermediates, trunk.patch_start, h, w, height, width);
  torch::Tensor depth;
  std::tie(depth, out.depth_conf) =
      depth_head(trunk.intermediates, trunk.patch_start, h, w, height, width);
  out.depth = depth.squeeze(-1);
  out.pose_encodings = camera_head(trunk.intermediates.back().select(2, 0));
  return out;
}

std::int64_t count_parameters(torch::nn::Module& module) {
  std::int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

}  // namespace vidprobe::probe
