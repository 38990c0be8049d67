#include "vidprobe/backbones/vit.h"

#include "vidprobe/core/error.h"

namespace vidprobe::backbones {
namespace F = torch::nn::functional;

LayerScaleImpl::LayerScaleImpl(int width, double init) {
  gamma = register_parameter("gamma", torch::full({width}, init));
}

ViTAttentionImpl::ViTAttentionImpl(int width, int num_heads) : heads(num_heads) {
  require(width % num_heads == 0, "ViT width " + std::to_string(width) +
                                      " is not divisible by heads " + std::to_string(num_heads));
  qkv = register_module("qkv", torch::nn::Linear(width, 3 * width));
  proj = register_module("proj", torch::nn::Linear(width, width));
}

namespace {

// x (B, H, N, d) -> x * cos + rotate_pairs(x) * sin, rotate_pairs((a, b)) = (-b, a).
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& rotary) {
  auto pairs = x.unflatten(-1, {-1, 2});
  auto rotated = torch::stack({-pairs.select(-1, 1), pairs.select(-1, 0)}, -1).flatten(-2);
  return x * rotary[0] + rotated * rotary[1];
}

}  // namespace

torch::Tensor ViTAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& rotary) {
  const auto B = x.size(0), N = x.size(1), D = x.size(2);
  auto qkv_heads = qkv(x).view({B, N, 3, heads, D / heads}).permute({2, 0, 3, 1, 4});
  auto q = qkv_heads[0], k = qkv_heads[1];
  if (rotary.defined()) {
    q = apply_rotary(q, rotary);
    k = apply_rotary(k, rotary);
  }
  auto out = at::scaled_dot_product_attention(q, k, qkv_heads[2]);
  return proj(out.transpose(1, 2).reshape({B, N, D}));
}

ViTMlpImpl::ViTMlpImpl(int width, int hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(width, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, width));
}

ViTSwiGLUImpl::ViTSwiGLUImpl(int width, int hidden) {
  w12 = register_module("w12", torch::nn::Linear(width, 2 * hidden));
  w3 = register_module("w3", torch::nn::Linear(hidden, width));
}

torch::Tensor ViTSwiGLUImpl::forward(const torch::Tensor& x) {
  auto gate_value = w12(x).chunk(2, -1);
  return w3(torch::silu(gate_value[0]) * gate_value[1]);
}

int feed_forward_width(const ViTConfig& config) {
  const int hidden = static_cast<int>(config.width * config.mlp_ratio);
  // Two thirds of the GELU width keeps the parameter count of the 3-matrix SwiGLU comparable.
  return config.swiglu ? (hidden * 2 / 3 + 7) / 8 * 8 : hidden;
}

ViTBlockImpl::ViTBlockImpl(const ViTConfig& config) {
  const auto norm_options = torch::nn::LayerNormOptions({config.width}).eps(config.norm_eps);
  norm1 = register_module("norm1", torch::nn::LayerNorm(norm_options));
  attn = register_module("attn", ViTAttention(config.width, config.heads));
  if (config.layer_scale)
    ls1 = register_module("ls1", LayerScale(config.width, config.layer_scale_init));
  norm2 = register_module("norm2", torch::nn::LayerNorm(norm_options));
  if (config.swiglu)
    swiglu = register_module("mlp", ViTSwiGLU(config.width, feed_forward_width(config)));
  else
    mlp = register_module("mlp", ViTMlp(config.width, feed_forward_width(config)));
  if (config.layer_scale)
    ls2 = register_module("ls2", LayerScale(config.width, config.layer_scale_init));
}

torch::Tensor ViTBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& rotary) {
  auto attended = attn(norm1(x), rotary);
  auto h = x + (ls1 ? ls1(attended) : attended);
  auto fed = swiglu ? swiglu(norm2(h)) : mlp(norm2(h));
  return h + (ls2 ? ls2(fed) : fed);
}

ViTImpl::ViTImpl(ViTConfig config) : config_(config) {
  const int grid = config.image_size / config.patch_size;
  patch_embed = register_module(
      "patch_embed",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(3, config.width, config.patch_size).stride(config.patch_size)));
  cls_token = register_parameter("cls_token", torch::randn({1, 1, config.width}) * 1e-6);
  if (config.register_tokens > 0)
    register_tokens = register_parameter("register_tokens",
                                         torch::zeros({1, config.register_tokens, config.width}));
  pos_embed =
      register_parameter("pos_embed", torch::randn({1, 1 + grid * grid, config.width}) * 0.02);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < config.depth; ++i) blocks->push_back(ViTBlock(config));
  norm = register_module(
      "norm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.width}).eps(config.norm_eps)));
}

torch::Tensor ViTImpl::interpolated_pos_embed(int64_t grid_h, int64_t grid_w) const {
  const int64_t trained = config_.image_size / config_.patch_size;
  if (grid_h == trained && grid_w == trained) return pos_embed;
  auto cls_pos = pos_embed.slice(1, 0, 1);
  // Resampled in float32 whatever the model dtype: bicubic weights in half precision shift the
  // embedding (transformers does the same).
  auto patch_pos = pos_embed.slice(1, 1)
                       .to(torch::kFloat32)
                       .reshape({1, trained, trained, config_.width})
                       .permute({0, 3, 1, 2});
  patch_pos = F::interpolate(patch_pos, F::InterpolateFuncOptions()
                                            .size(std::vector<int64_t>{grid_h, grid_w})
                                            .mode(torch::kBicubic)
                                            .align_corners(false)
                                            .antialias(config_.antialias_pos_interpolation));
  patch_pos = patch_pos.to(pos_embed.scalar_type());
  return torch::cat(
      {cls_pos, patch_pos.permute({0, 2, 3, 1}).reshape({1, grid_h * grid_w, config_.width})}, 1);
}

std::vector<torch::Tensor> ViTImpl::patch_features(const torch::Tensor& images,
                                                   const std::vector<int>& layers,
                                                   bool final_norm) {
  const int p = config_.patch_size;
  require(images.dim() == 4 && images.size(1) == 3,
          "ViT input must be (B, 3, H, W), got " + c10::str(images.sizes()));
  require(images.size(2) % p == 0 && images.size(3) % p == 0,
          "ViT input size " + c10::str(images.sizes()) + " is not a multiple of the patch size " +
              std::to_string(p));
  int last = -1;
  for (int layer : layers) {
    require(
        layer >= 0 && layer < config_.depth,
        "layer " + std::to_string(layer) + " is outside 0.." + std::to_string(config_.depth - 1));
    last = std::max(last, layer);
  }
  const int64_t B = images.size(0), gh = images.size(2) / p, gw = images.size(3) / p;
  auto x = patch_embed(images).flatten(2).transpose(1, 2);  // (B, N, D)
  x = torch::cat({cls_token.expand({B, 1, config_.width}), x}, 1) + interpolated_pos_embed(gh, gw);
  const int64_t prefix = 1 + config_.register_tokens;
  if (config_.register_tokens > 0)
    x = torch::cat(
        {x.slice(1, 0, 1), register_tokens.expand({B, config_.register_tokens, config_.width}),
         x.slice(1, 1)},
        1);
  std::vector<torch::Tensor> outputs(layers.size());
  for (int i = 0; i <= last; ++i) {
    x = blocks[i]->as<ViTBlock>()->forward(x);
    for (std::size_t k = 0; k < layers.size(); ++k)
      if (layers[k] == i)
        outputs[k] = (final_norm ? norm(x) : x)
                         .slice(1, prefix)
                         .transpose(1, 2)
                         .reshape({B, config_.width, gh, gw});
  }
  return outputs;
}

}  // namespace vidprobe::backbones
