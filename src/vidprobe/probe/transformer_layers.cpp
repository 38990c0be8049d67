#include "vidprobe/probe/transformer_layers.h"

#include "vidprobe/core/error.h"

namespace vidprobe::probe {
namespace F = torch::nn::functional;

torch::Tensor Rope2d::rotate_1d(const torch::Tensor& x, const torch::Tensor& position) const {
  // x (B, heads, N, d), position (B, N) -> rotate channel pairs (i, i + d/2) by position * freq_i.
  const int64_t d = x.size(-1);
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(x.device());
  const auto inv_freq =
      torch::pow(base_, -torch::arange(0, d, 2, options) / static_cast<double>(d));
  auto angles = position.to(torch::kFloat32).unsqueeze(-1) * inv_freq;  // (B, N, d/2)
  angles = torch::cat({angles, angles}, -1).unsqueeze(1);               // (B, 1, N, d)
  const auto cos = angles.cos().to(x.scalar_type());
  const auto sin = angles.sin().to(x.scalar_type());
  const auto halves = x.chunk(2, -1);
  const auto rotated = torch::cat({-halves[1], halves[0]}, -1);
  return x * cos + rotated * sin;
}

torch::Tensor Rope2d::apply(const torch::Tensor& x, const torch::Tensor& positions) const {
  const auto halves = x.chunk(2, -1);
  const auto y = rotate_1d(halves[0], positions.select(-1, 0));
  const auto xx = rotate_1d(halves[1], positions.select(-1, 1));
  return torch::cat({y, xx}, -1);
}

void init_transformer_weights(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    if (auto* linear = child->as<torch::nn::Linear>()) {
      linear->weight.normal_(0.0, 0.02).clamp_(-0.04, 0.04);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* norm = child->as<torch::nn::LayerNorm>()) {
      if (norm->weight.defined()) norm->weight.fill_(1.0);
      if (norm->bias.defined()) norm->bias.zero_();
    }
  }
}

MlpImpl::MlpImpl(int64_t in_features, int64_t hidden_features, int64_t out_features)
    : fc1(register_module("fc1", torch::nn::Linear(in_features, hidden_features))),
      fc2(register_module("fc2", torch::nn::Linear(hidden_features, out_features))) {}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return fc2(F::gelu(fc1(x)));
}

LayerScaleImpl::LayerScaleImpl(int64_t dim, double init_value) {
  if (init_value > 0) gamma = register_parameter("gamma", torch::full({dim}, init_value));
}

torch::Tensor LayerScaleImpl::forward(const torch::Tensor& x) {
  return gamma.defined() ? x * gamma : x;
}

AttentionImpl::AttentionImpl(const AttentionOptions& opts)
    : options(opts),
      qkv(register_module("qkv", torch::nn::Linear(opts.dim, 3 * opts.dim))),
      proj(register_module("proj", torch::nn::Linear(opts.dim, opts.dim))) {
  require(opts.num_heads > 0 && opts.dim % opts.num_heads == 0,
          "attention: num_heads " + std::to_string(opts.num_heads) + " must divide width " +
              std::to_string(opts.dim));
  const int64_t head_dim = opts.dim / opts.num_heads;
  if (opts.qk_norm) {
    q_norm =
        register_module("q_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({head_dim})));
    k_norm =
        register_module("k_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({head_dim})));
  }
  if (opts.rope_frequency > 0) {
    require(head_dim % 4 == 0, "attention: 2D RoPE needs a head width divisible by 4, got " +
                                   std::to_string(head_dim));
    rope.emplace(opts.rope_frequency);
  }
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x,
                                     const std::optional<torch::Tensor>& positions) {
  const int64_t batch = x.size(0), tokens = x.size(1), dim = x.size(2);
  const int64_t heads = options.num_heads, head_dim = dim / heads;
  auto qkv_out = qkv(x).reshape({batch, tokens, 3, heads, head_dim}).permute({2, 0, 3, 1, 4});
  auto q = qkv_out[0], k = qkv_out[1], v = qkv_out[2];  // (B, heads, N, head_dim)
  if (options.qk_norm) {
    q = q_norm(q);
    k = k_norm(k);
  }
  if (rope && positions) {
    q = rope->apply(q, *positions);
    k = rope->apply(k, *positions);
  }
  auto out = at::scaled_dot_product_attention(q, k, v);
  out = out.transpose(1, 2).reshape({batch, tokens, dim});
  return proj(out);
}

BlockImpl::BlockImpl(const BlockOptions& options)
    : norm1(register_module(
          "norm1",
          torch::nn::LayerNorm(
              torch::nn::LayerNormOptions({options.attention.dim}).eps(options.norm_eps)))),
      norm2(register_module(
          "norm2",
          torch::nn::LayerNorm(
              torch::nn::LayerNormOptions({options.attention.dim}).eps(options.norm_eps)))),
      attn(register_module("attn", Attention(options.attention))),
      ls1(register_module("ls1", LayerScale(options.attention.dim, options.layer_scale_init))),
      ls2(register_module("ls2", LayerScale(options.attention.dim, options.layer_scale_init))),
      mlp(register_module("mlp",
                          Mlp(options.attention.dim,
                              static_cast<int64_t>(options.attention.dim * options.mlp_ratio),
                              options.attention.dim))) {}

torch::Tensor BlockImpl::forward(const torch::Tensor& x,
                                 const std::optional<torch::Tensor>& positions) {
  auto out = x + ls1(attn(norm1(x), positions));
  return out + ls2(mlp(norm2(out)));
}

}  // namespace vidprobe::probe
