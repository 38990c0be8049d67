#include "vidprobe/backbones/cogvideox/vae_decoder.h"

namespace vidprobe::backbones::cogvideox {
namespace {

namespace F = torch::nn::functional;

// diffusers fixes the spatial norms' epsilon at 1e-6, whatever the config's norm_eps.
constexpr double kSpatialNormEps = 1e-6;

torch::Tensor nearest_to(const torch::Tensor& x, std::vector<int64_t> size) {
  return F::interpolate(x, F::InterpolateFuncOptions().size(std::move(size)).mode(torch::kNearest));
}

torch::Tensor nearest_times_two(const torch::Tensor& x) {
  const std::vector<double> scale(static_cast<std::size_t>(x.dim() - 2), 2.0);
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .scale_factor(scale)
                               .mode(torch::kNearest)
                               .recompute_scale_factor(false));
}

std::vector<int64_t> last_three(const torch::Tensor& x) {
  return {x.size(2), x.size(3), x.size(4)};
}

// Conv2d over every frame of (B, C, T, H, W).
torch::Tensor per_frame(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  const int64_t batch = x.size(0), frames = x.size(2);
  const auto out = conv(x.transpose(1, 2).flatten(0, 1));
  return out.unflatten(0, {batch, frames}).transpose(1, 2);
}

}  // namespace

SpatialNorm3dImpl::SpatialNorm3dImpl(int64_t channels, int64_t latent_channels, int groups)
    : norm_layer(register_module(
          "norm_layer", vidprobe::nn::GroupNorm(
                            torch::nn::GroupNormOptions(groups, channels).eps(kSpatialNormEps)))),
      conv_y(register_module("conv_y", CausalConv3d(latent_channels, channels, 1))),
      conv_b(register_module("conv_b", CausalConv3d(latent_channels, channels, 1))) {}

torch::Tensor SpatialNorm3dImpl::forward(const torch::Tensor& features,
                                         const torch::Tensor& latents, CausalCache& cache) {
  torch::Tensor z;
  const int64_t frames = features.size(2);
  if (frames > 1 && frames % 2 == 1) {
    // The causal first frame is resized on its own, so it never takes a later latent frame.
    auto first = nearest_to(latents.slice(2, 0, 1), last_three(features.slice(2, 0, 1)));
    auto rest = nearest_to(latents.slice(2, 1), last_three(features.slice(2, 1)));
    z = torch::cat({first, rest}, 2);
  } else {
    z = nearest_to(latents, last_three(features));
  }
  return norm_layer(features) * conv_y(z, cache) + conv_b(z, cache);
}

DecoderResnetBlockImpl::DecoderResnetBlockImpl(int64_t in, int64_t out, const VaeConfig& config)
    : norm1(
          register_module("norm1", SpatialNorm3d(in, config.latent_channels, config.norm_groups))),
      conv1(register_module("conv1", CausalConv3d(in, out, 3))),
      norm2(
          register_module("norm2", SpatialNorm3d(out, config.latent_channels, config.norm_groups))),
      conv2(register_module("conv2", CausalConv3d(out, out, 3))) {
  if (in != out) conv_shortcut = register_module("conv_shortcut", torch::nn::Conv3d(in, out, 1));
}

torch::Tensor DecoderResnetBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& latents,
                                              CausalCache& cache) {
  auto h = conv1(torch::silu(norm1(x, latents, cache)), cache);
  h = conv2(torch::silu(norm2(h, latents, cache)), cache);
  return h + (conv_shortcut ? conv_shortcut(x) : x);
}

VaeUpsampleImpl::VaeUpsampleImpl(int64_t channels, bool compress)
    : conv(register_module(
          "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).padding(1)))),
      compress_time(compress) {}

torch::Tensor VaeUpsampleImpl::forward(const torch::Tensor& x) {
  torch::Tensor h;
  const int64_t frames = x.size(2);
  if (compress_time && frames > 1 && frames % 2 == 1) {
    // The first frame doubles in space only; the rest double in time too.
    const auto first = nearest_times_two(x.select(2, 0)).unsqueeze(2);
    h = torch::cat({first, nearest_times_two(x.slice(2, 1))}, 2);
  } else if (compress_time && frames > 1) {
    h = nearest_times_two(x);
  } else {
    // Space only, frame by frame (also a single frame under compress_time).
    h = nearest_times_two(x.transpose(1, 2).flatten(0, 1))
            .unflatten(0, {x.size(0), frames})
            .transpose(1, 2);
  }
  return per_frame(conv, h);
}

DecoderStageImpl::DecoderStageImpl(int64_t in, int64_t out, int layers, const VaeConfig& config,
                                   bool upsample, bool compress_time)
    : resnets(register_module("resnets", torch::nn::ModuleList())) {
  for (int i = 0; i < layers; ++i)
    resnets->push_back(DecoderResnetBlock(i == 0 ? in : out, out, config));
  if (!upsample) return;
  upsamplers = register_module("upsamplers", torch::nn::ModuleList());
  upsamplers->push_back(VaeUpsample(out, compress_time));
}

torch::Tensor DecoderStageImpl::forward(const torch::Tensor& x, const torch::Tensor& latents,
                                        CausalCache& cache) {
  auto h = x;
  for (const auto& resnet : *resnets)
    h = resnet->as<DecoderResnetBlockImpl>()->forward(h, latents, cache);
  if (upsamplers)
    for (const auto& up : *upsamplers) h = up->as<VaeUpsampleImpl>()->forward(h);
  return h;
}

VaeDecoderImpl::VaeDecoderImpl(const VaeConfig& config) {
  const std::vector<int> widths(config.block_out_channels.rbegin(),
                                config.block_out_channels.rend());
  conv_in = register_module("conv_in", CausalConv3d(config.latent_channels, widths.front(), 3));
  mid_block = register_module(
      "mid_block", DecoderStage(widths.front(), widths.front(), 2, config, false, false));
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  int time_levels = 0;  // log2(temporal_compression): the first blocks that double time
  while ((1 << time_levels) < config.temporal_compression) ++time_levels;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    const int in = i == 0 ? widths.front() : widths[i - 1];
    up_blocks->push_back(DecoderStage(in, widths[i], config.layers_per_block + 1, config,
                                      /*upsample=*/i + 1 < widths.size(),
                                      /*compress_time=*/static_cast<int>(i) < time_levels));
  }
  norm_out = register_module(
      "norm_out", SpatialNorm3d(widths.back(), config.latent_channels, config.norm_groups));
  conv_out = register_module("conv_out", CausalConv3d(widths.back(), config.out_channels, 3));
}

torch::Tensor VaeDecoderImpl::forward(const torch::Tensor& latents, CausalCache& cache) {
  auto h = conv_in(latents, cache);
  h = mid_block(h, latents, cache);
  for (const auto& block : *up_blocks)
    h = block->as<DecoderStageImpl>()->forward(h, latents, cache);
  return conv_out(torch::silu(norm_out(h, latents, cache)), cache);
}

}  // namespace vidprobe::backbones::cogvideox
