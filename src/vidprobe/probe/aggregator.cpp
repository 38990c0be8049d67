#include "vidprobe/probe/aggregator.h"

#include "vidprobe/core/error.h"

namespace vidprobe::probe {

AggregatorImpl::AggregatorImpl(const ModelConfig& cfg, int64_t feature_dim_)
    : config(cfg), feature_dim(feature_dim_) {
  require(feature_dim > 0,
          "probe: feature dimension must be positive, got " + std::to_string(feature_dim));
  if (config.input_norm)
    input_norm = register_module(
        "input_norm", torch::nn::LayerNorm(
                          torch::nn::LayerNormOptions({feature_dim}).eps(config.input_norm_eps)));
  input_proj = register_module("input_proj", vidprobe::nn::Linear(feature_dim, config.width));
  // Tiny initial tokens as VGGT: they start as near-zero markers and are learned.
  camera_token = register_parameter("camera_token", torch::randn({1, 2, 1, config.width}) * 1e-6);
  if (config.num_register_tokens > 0)
    register_token = register_parameter(
        "register_token", torch::randn({1, 2, config.num_register_tokens, config.width}) * 1e-6);

  const nn::BlockOptions block{
      .attention = {.dim = config.width, .num_heads = config.num_heads, .qk_norm = config.qk_norm},
      .mlp_ratio = config.mlp_ratio,
      .layer_scale_init = config.layer_scale_init,
      .norm_eps = config.norm_eps};
  for (int i = 0; i < config.num_blocks; ++i) {
    frame_blocks->push_back(nn::Block(block));
    global_blocks->push_back(nn::Block(block));
  }
  register_module("frame_blocks", frame_blocks);
  register_module("global_blocks", global_blocks);
  if (config.init == "trunc_normal") nn::init_transformer_weights(*this);
}

nn::AggregatorOutput AggregatorImpl::forward(const torch::Tensor& features) {
  require(features.dim() == 5, "probe: features must be (B, S, C, h, w)");
  const int64_t B = features.size(0), S = features.size(1), C = features.size(2);
  const int64_t h = features.size(3), w = features.size(4);
  require(C == feature_dim, "probe: features have " + std::to_string(C) +
                                " channels but the probe was built for " +
                                std::to_string(feature_dim));

  auto patches = features.to(torch::kFloat32).permute({0, 1, 3, 4, 2}).reshape({B * S, h * w, C});
  if (config.input_norm) patches = input_norm(patches);
  patches = input_proj(patches);

  std::vector<torch::Tensor> parts{nn::expand_first_and_rest(camera_token, B, S)};
  if (register_token.defined()) parts.push_back(nn::expand_first_and_rest(register_token, B, S));
  const int64_t patch_start = 1 + config.num_register_tokens;
  parts.push_back(patches);
  // The residual stream stays in float32 under autocast (the authors' torch.cat of the float32
  // tokens with the bf16 projection promotes it the same way); the blocks' matmuls run in bf16.
  parts.back() = parts.back().to(torch::kFloat32);
  return nn::run_alternating_blocks(
      frame_blocks, global_blocks, torch::cat(parts, 1),
      {.batch = B, .frames = S, .patch_start = patch_start, .h = h, .w = w},
      {.num_heads = config.num_heads,
       .rope_frequency = config.rope_frequency,
       .global_attention = config.global_attention,
       .checkpointed_blocks = !config.gradient_checkpointing ? 0
                              : config.checkpoint_blocks < 0 ? config.num_blocks
                                                             : config.checkpoint_blocks});
}

}  // namespace vidprobe::probe
