#include "vidprobe/probe/probe_model.h"

#include "vidprobe/core/error.h"
#include "vidprobe/probe/device.h"

namespace vidprobe::probe {

ProbeModelImpl::ProbeModelImpl(const ProbeConfig& cfg, int64_t feature_dim_)
    : config(cfg), feature_dim(feature_dim_) {
  validate(config);
  const auto& m = config.model;
  const int64_t token_dim = 2 * m.width;  // frame and global outputs concatenated
  // kind "vggt": the released VGGT's constants inside the same layers (see ModelConfig::kind).
  const bool vggt = m.kind == "vggt";
  aggregator = register_module("aggregator", Aggregator(m, feature_dim));
  point_head = register_module(
      "point_head", DptHead(config.heads.dense, token_dim, 4, m.num_blocks,
                            config.heads.point_activation, config.heads.conf_activation, vggt));
  depth_head = register_module(
      "depth_head", DptHead(config.heads.dense, token_dim, 2, m.num_blocks,
                            config.heads.depth_activation, config.heads.conf_activation, vggt));
  point_head->layer_indices = dense_head_layers(m);
  depth_head->layer_indices = dense_head_layers(m);
  camera_head = register_module(
      "camera_head", CameraHead(config.heads.camera, token_dim, m.num_heads, m.mlp_ratio,
                                /*qk_norm=*/vggt ? false : m.qk_norm, m.global_attention,
                                /*trunk_layer_scale_init=*/vggt ? m.layer_scale_init : 0.0,
                                /*trunk_norm_eps=*/vggt ? 1e-5 : 1e-6));
}

ProbePrediction ProbeModelImpl::forward(const torch::Tensor& features, int64_t height,
                                        int64_t width) {
  require(height > 0 && width > 0, "probe: output resolution must be positive");
  auto trunk = aggregator(features);
  // The heads run in fp32 with autocast off (VGGT does the same).
  AutocastDisabledGuard fp32_heads;
  for (auto& tokens : trunk.intermediates) tokens = tokens.to(torch::kFloat32);
  const int64_t h = features.size(3), w = features.size(4);
  ProbePrediction out;
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
