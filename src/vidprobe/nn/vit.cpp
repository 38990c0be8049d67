#include "vidprobe/nn/vit.h"

#include "vidprobe/core/error.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::nn {
namespace F = torch::nn::functional;

int feed_forward_width(const ViTConfig& config) {
  return static_cast<int>(feed_forward_width(block_options(config)));
}

BlockOptions block_options(const ViTConfig& config) {
  return {.attention = {.dim = config.width, .num_heads = config.heads, .qk_norm = false},
          .mlp_ratio = config.mlp_ratio,
          .feed_forward = config.swiglu ? FeedForward::kSwiGlu : FeedForward::kGeluMlp,
          .layer_scale_init = config.layer_scale ? config.layer_scale_init : 0.0,
          .norm_eps = config.norm_eps,
          .fold_layer_scale = true,
          .fuse_residual_norm = true};
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
  for (int i = 0; i < config.depth; ++i) blocks->push_back(Block(block_options(config)));
  norm = register_module(
      "norm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.width}).eps(config.norm_eps)));
}

torch::Tensor ViTImpl::interpolated_pos_embed(int64_t grid_h, int64_t grid_w) {
  const int64_t trained = config_.image_size / config_.patch_size;
  if (grid_h == trained && grid_w == trained) return pos_embed;
  if (torch::GradMode::is_enabled()) return resample_pos_embed(grid_h, grid_w);
  auto& cache = pos_embed_cache_;
  auto key = GridKey::of({grid_h, grid_w}, pos_embed.options());
  if (cache.key != key || !cache.source.matches(pos_embed))
    cache = {std::move(key), TensorSnapshot(pos_embed), resample_pos_embed(grid_h, grid_w)};
  return cache.value;
}

torch::Tensor ViTImpl::resample_pos_embed(int64_t grid_h, int64_t grid_w) const {
  const int64_t trained = config_.image_size / config_.patch_size;
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
  nn::ScopedStage stage(nn::kTransformerStage);
  const int p = config_.patch_size;
  require(images.dim() == 4 && images.size(1) == 3,
          "ViT input must be (B, 3, H, W), got " + c10::str(images.sizes()));
  require(images.size(2) % p == 0 && images.size(3) % p == 0,
          "ViT input size " + c10::str(images.sizes()) + " is not a multiple of the patch size " +
              std::to_string(p));
  require_kept_layers(blocks, layers);
  const int64_t B = images.size(0), gh = images.size(2) / p, gw = images.size(3) / p;
  auto x = patch_embed(images).flatten(2).transpose(1, 2);  // (B, N, D)
  x = torch::cat({cls_token.expand({B, 1, config_.width}), x}, 1) + interpolated_pos_embed(gh, gw);
  const int64_t prefix = 1 + config_.register_tokens;
  if (config_.register_tokens > 0)
    x = torch::cat(
        {x.slice(1, 0, 1), register_tokens.expand({B, config_.register_tokens, config_.width}),
         x.slice(1, 1)},
        1);
  auto outputs = kept_layer_streams(blocks, x, layers);
  for (auto& tokens : outputs)
    tokens = (final_norm ? norm(tokens) : tokens)
                 .slice(1, prefix)
                 .transpose(1, 2)
                 .reshape({B, config_.width, gh, gw});
  return outputs;
}

}  // namespace vidprobe::nn
