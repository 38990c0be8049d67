#include "vidprobe/nn/transformer.h"

#include <algorithm>
#include <string>

#include "vidprobe/core/error.h"
#include "vidprobe/nn/head_norm.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::nn {

void init_transformer_weights(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    if (auto* linear = child->as<Linear>()) {
      linear->weight.normal_(0.0, 0.02).clamp_(-0.04, 0.04);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* norm = child->as<torch::nn::LayerNorm>()) {
      if (norm->weight.defined()) norm->weight.fill_(1.0);
      if (norm->bias.defined()) norm->bias.zero_();
    }
  }
}

MlpImpl::MlpImpl(int64_t in_features, int64_t hidden_features, int64_t out_features, Gelu gelu_kind)
    : fc1(register_module("fc1", vidprobe::nn::Linear(in_features, hidden_features))),
      fc2(register_module("fc2", vidprobe::nn::Linear(hidden_features, out_features))),
      gelu(gelu_kind) {}

torch::Tensor MlpImpl::hidden(const torch::Tensor& x) {
  if (gelu == Gelu::kTanh) return linear_gelu_tanh(x, fc1->weight, fc1->bias);
  const auto h = fc1(x);
  if (gelu == Gelu::kQuick) return h * torch::sigmoid(1.702 * h);
  return torch::gelu(h);  // Gelu::kExact
}

SwiGluImpl::SwiGluImpl(int64_t width, int64_t hidden)
    : w12(register_module("w12", vidprobe::nn::Linear(width, 2 * hidden))),
      w3(register_module("w3", vidprobe::nn::Linear(hidden, width))) {}

torch::Tensor SwiGluImpl::hidden(const torch::Tensor& x) {
  const auto gate_value = w12(x).chunk(2, -1);
  return torch::silu(gate_value[0]) * gate_value[1];
}

LayerScaleImpl::LayerScaleImpl(int64_t dim, double init_value)
    : gamma(register_parameter("gamma", torch::full({dim}, init_value))) {}

RmsNormImpl::RmsNormImpl(int64_t dim, double epsilon)
    : scale(register_parameter("scale", torch::ones({dim}))), eps(epsilon) {}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
  if (head_rms_norm_uses_runtime_kernel(x, scale)) return head_rms_norm(x, scale, eps);
  const auto x32 = x.to(torch::kFloat32);
  const auto normalised = x32 * torch::rsqrt(x32.square().mean(-1, true) + eps);
  return normalised.to(x.scalar_type()) * scale;
}

AttentionImpl::AttentionImpl(const AttentionOptions& opts)
    : options(opts),
      qkv(register_module("qkv", vidprobe::nn::Linear(opts.dim, 3 * opts.dim))),
      proj(register_module("proj", vidprobe::nn::Linear(opts.dim, opts.dim))) {
  require(opts.num_heads > 0 && opts.dim % opts.num_heads == 0,
          "attention: num_heads " + std::to_string(opts.num_heads) + " must divide width " +
              std::to_string(opts.dim));
  if (!opts.qk_norm) return;
  const auto head_norm =
      torch::nn::LayerNormOptions({opts.dim / opts.num_heads}).eps(opts.qk_norm_eps);
  q_norm = register_module("q_norm", torch::nn::LayerNorm(head_norm));
  k_norm = register_module("k_norm", torch::nn::LayerNorm(head_norm));
}

torch::Tensor AttentionImpl::mix(const torch::Tensor& x, const RotaryAngles* rotary) {
  const int64_t batch = x.size(0), tokens = x.size(1), dim = x.size(2);
  const int64_t heads = options.num_heads, head_dim = dim / heads;
  const auto qkv_heads =
      qkv(x).reshape({batch, tokens, 3, heads, head_dim}).permute({2, 0, 3, 1, 4});
  auto q = qkv_heads[0], k = qkv_heads[1];  // (B, heads, N, head_dim)
  if (options.qk_norm) {
    q = head_layer_norm(q, q_norm);
    k = head_layer_norm(k, k_norm);
  }
  if (rotary != nullptr && !options.qk_norm) {
    // Straight from the packed projection, q and k turn in one pass over (2, B, heads, N,
    // head_dim): half the kernel launches, which is what short clips are bound by. Normalised,
    // they are separate tensors, and stacking them would cost a copy more than it saves.
    const auto turned = apply_rotary(qkv_heads.narrow(0, 0, 2), *rotary);
    q = turned[0];
    k = turned[1];
  } else if (rotary != nullptr) {
    q = apply_rotary(q, *rotary);
    k = apply_rotary(k, *rotary);
  }
  const auto out = attention(q, k, qkv_heads[2], options.causal, options.scale);
  return out.transpose(1, 2).reshape({batch, tokens, dim});
}

int64_t feed_forward_width(const BlockOptions& options) {
  const auto hidden = static_cast<int64_t>(options.attention.dim * options.mlp_ratio);
  return options.feed_forward == FeedForward::kSwiGlu ? (hidden * 2 / 3 + 7) / 8 * 8 : hidden;
}

BlockImpl::BlockImpl(const BlockOptions& options)
    : fold_layer_scale_(options.fold_layer_scale), fuse_residual_norm_(options.fuse_residual_norm) {
  const int64_t dim = options.attention.dim;
  const auto norm = torch::nn::LayerNormOptions({dim}).eps(options.norm_eps);
  const bool layer_scale = options.layer_scale_init != 0.0;
  // Registration order = the reference modules' (DINOv2 / VGGT Block.__init__), which fixes the
  // order in which the default initialisation draws random numbers.
  norm1 = register_module("norm1", torch::nn::LayerNorm(norm));
  attn = register_module("attn", Attention(options.attention));
  if (layer_scale) ls1 = register_module("ls1", LayerScale(dim, options.layer_scale_init));
  norm2 = register_module("norm2", torch::nn::LayerNorm(norm));
  if (options.feed_forward == FeedForward::kSwiGlu)
    swiglu = register_module("mlp", SwiGlu(dim, feed_forward_width(options)));
  else
    mlp = register_module("mlp", Mlp(dim, feed_forward_width(options), dim, options.gelu));
  if (layer_scale) ls2 = register_module("ls2", LayerScale(dim, options.layer_scale_init));
}

torch::Tensor BlockImpl::feed_forward(const torch::Tensor& x) {
  return swiglu ? swiglu(x) : mlp(x);
}

// The product is formed in float32 (float64 for a float64 layer) and stored in the layer's dtype.
torch::Tensor BlockImpl::folded_linear(const torch::Tensor& x, const vidprobe::nn::Linear& linear,
                                       const LayerScale& scale, FoldedLinear& cache) {
  const auto &weight = linear->weight, &bias = linear->bias, &gamma = scale->gamma;
  if (!cache.weight.defined() || !cache.weight_source.matches(weight) ||
      !cache.bias_source.matches(bias) || !cache.gamma_source.matches(gamma)) {
    const auto precise = at::promote_types(weight.scalar_type(), torch::kFloat32);
    const auto g = gamma.to(precise);
    cache.weight = (weight.to(precise) * g.unsqueeze(1)).to(weight.scalar_type());
    cache.bias = bias.defined() ? (bias.to(precise) * g).to(bias.scalar_type()) : bias;
    cache.weight_source = TensorSnapshot(weight);
    cache.bias_source = TensorSnapshot(bias);
    cache.gamma_source = TensorSnapshot(gamma);
  }
  count_linear_flops(x, cache.weight.size(0));
  return at::linear(x, cache.weight, cache.bias);
}

torch::Tensor BlockImpl::settled(const ResidualUpdate& x) {
  if (!x.update.defined()) return x.stream;
  // LayerScale and the residual add as one addcmul: one pass over the activations instead of two
  // (the scale's broadcast made its multiply a strided kernel, 8 % of DINOv2-L's GPU time).
  return x.gate.defined() ? torch::addcmul(x.stream, x.update, x.gate) : x.stream + x.update;
}

bool BlockImpl::folds_layer_scale() const {
  return fold_layer_scale_ && ls1 && !torch::GradMode::is_enabled() &&
         attn->proj->weight.scalar_type() != torch::kHalf;
}

const torch::Tensor& BlockImpl::kernel_vector(const torch::Tensor& tensor) {
  // float64 stays as it is (the kernel declines it, as libtorch would not round it to float32).
  if (!tensor.defined() || tensor.scalar_type() == torch::kFloat32 ||
      at::promote_types(tensor.scalar_type(), torch::kFloat32) != torch::kFloat32 ||
      (tensor.requires_grad() && torch::GradMode::is_enabled()))
    return tensor;
  auto& copy = kernel_vectors_[tensor.unsafeGetTensorImpl()];
  if (!copy.value.defined() || !copy.source.matches(tensor))
    copy = {TensorSnapshot(tensor), tensor.detach().to(torch::kFloat32)};
  return copy.value;
}

NormedStream BlockImpl::add_and_norm(const ResidualUpdate& branch, torch::nn::LayerNorm& norm) {
  // The weight and bias as the modulation form's float32 multiplier and shift: the kernel's
  // arithmetic is the same for both forms (normed x weight + bias in float32). As in the
  // weight-and-bias form, only a weight and bias of the stream's dtype (libtorch's layer_norm
  // takes no other). A float32 stream keeps libtorch's steps (BlockOptions::fuse_residual_norm
  // says why).
  const auto dtype = branch.stream.scalar_type();
  if (fuse_residual_norm_ && branch.update.defined() && branch.stream.is_cuda() &&
      dtype == torch::kBFloat16 && norm->weight.scalar_type() == dtype &&
      norm->bias.scalar_type() == dtype)
    if (auto fused = residual_norm_on_runtime_kernel(
            {branch.stream, branch.update, kernel_vector(branch.gate)}, NormScale::kModulation,
            kernel_vector(norm->weight), kernel_vector(norm->bias), norm->options.eps(), dtype))
      return *std::move(fused);
  auto stream = settled(branch);
  auto normed = norm(stream);
  return {std::move(stream), std::move(normed)};
}

ResidualUpdate BlockImpl::forward_pending(const ResidualUpdate& x, const RotaryAngles* rotary) {
  const auto first = add_and_norm(x, norm1);
  if (folds_layer_scale()) {
    const auto attended =
        folded_linear(attn->mix(first.normed, rotary), attn->proj, ls1, folded_attention_output_);
    const auto mid = add_and_norm({first.stream, attended}, norm2);
    const auto hidden = swiglu ? swiglu->hidden(mid.normed) : mlp->hidden(mid.normed);
    return {mid.stream, folded_linear(hidden, swiglu ? swiglu->w3 : mlp->fc2, ls2,
                                      folded_feed_forward_output_)};
  }
  const auto mid = add_and_norm(
      {first.stream, attn(first.normed, rotary), ls1 ? ls1->gamma : torch::Tensor{}}, norm2);
  return {mid.stream, feed_forward(mid.normed), ls2 ? ls2->gamma : torch::Tensor{}};
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const RotaryAngles* rotary) {
  return settled(forward_pending({x}, rotary));
}

void require_kept_layers(const torch::nn::ModuleList& blocks, const std::vector<int>& layers) {
  const int depth = static_cast<int>(blocks->size());
  for (int layer : layers)
    require(layer >= 0 && layer < depth, [&] {
      return "layer " + std::to_string(layer) + " is outside 0.." + std::to_string(depth - 1);
    });
}

std::vector<torch::Tensor> kept_layer_streams(const torch::nn::ModuleList& blocks,
                                              const torch::Tensor& tokens,
                                              const std::vector<int>& layers,
                                              const RotaryAngles* rotary) {
  require_kept_layers(blocks, layers);
  const int last = layers.empty() ? -1 : std::ranges::max(layers);
  std::vector<torch::Tensor> outputs(layers.size());
  ResidualUpdate stream{tokens};
  for (int i = 0; i <= last; ++i) {
    stream = blocks->ptr<BlockImpl>(i)->forward_pending(stream, rotary);
    if (std::find(layers.begin(), layers.end(), i) == layers.end()) continue;
    stream = {BlockImpl::settled(stream)};
    for (std::size_t k = 0; k < layers.size(); ++k)
      if (layers[k] == i) outputs[k] = stream.stream;
  }
  return outputs;
}

}  // namespace vidprobe::nn
