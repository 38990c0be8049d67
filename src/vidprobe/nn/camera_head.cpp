#include "vidprobe/nn/camera_head.h"

#include "vidprobe/nn/head_activation.h"

namespace vidprobe::nn {

CameraHeadImpl::CameraHeadImpl(const CameraHeadConfig& cfg, int64_t dim_in, int64_t num_heads,
                               double mlp_ratio, bool across_frames, bool trunc_normal_init)
    : config(cfg), attend_across_frames(across_frames) {
  token_norm =
      register_module("token_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim_in})));
  BlockOptions block;
  block.attention.dim = dim_in;
  block.attention.num_heads = num_heads;
  block.attention.qk_norm = config.qk_norm;
  block.mlp_ratio = mlp_ratio;
  block.layer_scale_init = config.layer_scale_init;
  block.norm_eps = config.norm_eps;
  for (int i = 0; i < config.trunk_depth; ++i) trunk->push_back(Block(block));
  register_module("trunk", trunk);
  trunk_norm =
      register_module("trunk_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim_in})));
  adaln_norm = register_module(
      "adaln_norm", torch::nn::LayerNorm(
                        torch::nn::LayerNormOptions({dim_in}).elementwise_affine(false).eps(1e-6)));
  empty_pose = register_parameter("empty_pose", torch::zeros({1, 1, kPoseEncodingDim}));
  embed_pose = register_module("embed_pose", vidprobe::nn::Linear(kPoseEncodingDim, dim_in));
  modulation = register_module("modulation", vidprobe::nn::Linear(dim_in, 3 * dim_in));
  pose_branch = register_module("pose_branch", Mlp(dim_in, dim_in / 2, kPoseEncodingDim));
  if (trunc_normal_init) init_transformer_weights(*this);
}

std::vector<torch::Tensor> CameraHeadImpl::forward(const torch::Tensor& camera_tokens) {
  const int64_t B = camera_tokens.size(0), S = camera_tokens.size(1), C = camera_tokens.size(2);
  auto tokens = token_norm(camera_tokens);
  std::vector<torch::Tensor> estimates;
  torch::Tensor estimate;  // raw (pre-activation) running estimate
  for (int iteration = 0; iteration < config.iterations; ++iteration) {
    const auto conditioning = estimate.defined()
                                  ? embed_pose(estimate.detach())
                                  : embed_pose(empty_pose.expand({B, S, kPoseEncodingDim}));
    const auto chunks = modulation(torch::silu(conditioning)).chunk(3, -1);
    const auto& shift = chunks[0];
    const auto& scale = chunks[1];
    const auto& gate = chunks[2];
    auto x = gate * (adaln_norm(tokens) * (1 + scale) + shift) + tokens;
    // Frame-only ablation: each camera token is its own sequence of length 1.
    x = attend_across_frames ? x : x.reshape({B * S, 1, C});
    for (const auto& block : *trunk) x = block->as<Block>()->forward(x);
    x = x.reshape({B, S, C});
    const auto delta = pose_branch(trunk_norm(x));
    // The previous estimate enters the sum detached too (VGGT's trunk_fn reassigns the detached
    // tensor): each iteration's gradient reaches the trunk only through its own delta.
    estimate = estimate.defined() ? estimate.detach() + delta : delta;
    estimates.push_back(activate_pose_encoding(estimate));
  }
  return estimates;
}

}  // namespace vidprobe::nn
