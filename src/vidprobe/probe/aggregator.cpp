#include "vidprobe/probe/aggregator.h"

#include "vidprobe/core/error.h"

namespace vidprobe::probe {

torch::Tensor expand_first_and_rest(const torch::Tensor& pair, int64_t batch, int64_t frames) {
  const auto first = pair.slice(1, 0, 1).expand({batch, 1, pair.size(2), pair.size(3)});
  const auto rest = pair.slice(1, 1, 2).expand({batch, frames - 1, pair.size(2), pair.size(3)});
  return torch::cat({first, rest}, 1).reshape({batch * frames, pair.size(2), pair.size(3)});
}

torch::Tensor token_positions(int64_t batch_frames, int64_t patch_start, int64_t h, int64_t w,
                              torch::Device device) {
  const auto options = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const auto ys = torch::arange(h, options).view({h, 1}).expand({h, w});
  const auto xs = torch::arange(w, options).view({1, w}).expand({h, w});
  const auto patches = torch::stack({ys, xs}, -1).reshape({h * w, 2}) + 1;
  const auto special = torch::zeros({patch_start, 2}, options);
  return torch::cat({special, patches}, 0)
      .unsqueeze(0)
      .expand({batch_frames, patch_start + h * w, 2});
}

AggregatorImpl::AggregatorImpl(const ModelConfig& cfg, int64_t feature_dim_)
    : config(cfg), feature_dim(feature_dim_) {
  require(feature_dim > 0,
          "probe: feature dimension must be positive, got " + std::to_string(feature_dim));
  if (config.input_norm)
    input_norm = register_module(
        "input_norm", torch::nn::LayerNorm(
                          torch::nn::LayerNormOptions({feature_dim}).eps(config.input_norm_eps)));
  input_proj = register_module("input_proj", torch::nn::Linear(feature_dim, config.width));
  // Tiny initial tokens as VGGT: they start as near-zero markers and are learned.
  camera_token = register_parameter("camera_token", torch::randn({1, 2, 1, config.width}) * 1e-6);
  if (config.num_register_tokens > 0)
    register_token = register_parameter(
        "register_token", torch::randn({1, 2, config.num_register_tokens, config.width}) * 1e-6);

  BlockOptions block;
  block.attention.dim = config.width;
  block.attention.num_heads = config.num_heads;
  block.attention.qk_norm = config.qk_norm;
  block.attention.rope_frequency = config.rope_frequency;
  block.mlp_ratio = config.mlp_ratio;
  block.layer_scale_init = config.layer_scale_init;
  block.norm_eps = config.norm_eps;
  for (int i = 0; i < config.num_blocks; ++i) {
    frame_blocks->push_back(Block(block));
    global_blocks->push_back(Block(block));
  }
  register_module("frame_blocks", frame_blocks);
  register_module("global_blocks", global_blocks);
  if (config.init == "trunc_normal") init_transformer_weights(*this);
}

AggregatorOutput AggregatorImpl::forward(const torch::Tensor& features) {
  require(features.dim() == 5, "probe: features must be (B, S, C, h, w)");
  const int64_t B = features.size(0), S = features.size(1), C = features.size(2);
  const int64_t h = features.size(3), w = features.size(4);
  require(C == feature_dim, "probe: features have " + std::to_string(C) +
                                " channels but the probe was built for " +
                                std::to_string(feature_dim));
  const int64_t D = config.width;

  auto patches = features.to(torch::kFloat32).permute({0, 1, 3, 4, 2}).reshape({B * S, h * w, C});
  if (config.input_norm) patches = input_norm(patches);
  patches = input_proj(patches);

  std::vector<torch::Tensor> parts{expand_first_and_rest(camera_token, B, S)};
  if (register_token.defined()) parts.push_back(expand_first_and_rest(register_token, B, S));
  const int64_t patch_start = 1 + config.num_register_tokens;
  parts.push_back(patches);
  // The residual stream stays in float32 under autocast (the authors' torch.cat of the float32
  // tokens with the bf16 projection promotes it the same way); the blocks' matmuls run in bf16.
  parts.back() = parts.back().to(torch::kFloat32);
  auto tokens = torch::cat(parts, 1);  // (B*S, P, D)
  const int64_t P = tokens.size(1);

  std::optional<torch::Tensor> frame_pos, global_pos;
  if (config.rope_frequency > 0) {
    frame_pos = token_positions(B * S, patch_start, h, w, features.device());
    global_pos = frame_pos->reshape({B, S * P, 2});
  }

  AggregatorOutput out;
  out.patch_start = patch_start;
  for (int i = 0; i < config.num_blocks; ++i) {
    tokens = frame_blocks[i]->as<Block>()->forward(tokens.reshape({B * S, P, D}), frame_pos);
    const auto frame_out = tokens.view({B, S, P, D});
    if (config.global_attention)
      tokens = global_blocks[i]->as<Block>()->forward(tokens.reshape({B, S * P, D}), global_pos);
    else
      tokens = global_blocks[i]->as<Block>()->forward(tokens, frame_pos);
    const auto global_out = tokens.view({B, S, P, D});
    out.intermediates.push_back(torch::cat({frame_out, global_out}, -1));
  }
  return out;
}

}  // namespace vidprobe::probe
