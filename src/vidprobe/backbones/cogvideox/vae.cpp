#include "vidprobe/backbones/cogvideox/vae.h"

#include <algorithm>
#include <functional>

#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/cogvideox/vae_decoder.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/nn/spatial_tiling.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones::cogvideox {
namespace {

vidprobe::nn::GroupNorm group_norm(int64_t channels, const VaeConfig& config) {
  return vidprobe::nn::GroupNorm(
      torch::nn::GroupNormOptions(config.norm_groups, channels).eps(config.norm_eps));
}

// Pairs of frames averaged along dim 2 (avg_pool1d with kernel and stride 2).
torch::Tensor average_frame_pairs(const torch::Tensor& x) {
  return x.unflatten(2, {x.size(2) / 2, 2}).mean(3);
}

// diffusers' frame batching (_encode with its frame batch, _decode with 2): batches of `batch`
// frames, the first taking the remainder as well, each run with the causal context the previous
// batch left; the outputs concatenated in time.
torch::Tensor over_frame_batches(
    const torch::Tensor& x, int64_t batch,
    const std::function<torch::Tensor(const torch::Tensor&, CausalCache&)>& run) {
  const int64_t frames = x.size(2);
  const int64_t batches = std::max<int64_t>(frames / batch, 1), remainder = frames % batch;
  CausalCache cache;
  std::vector<torch::Tensor> outputs;
  for (int64_t i = 0; i < batches; ++i) {
    const int64_t start = batch * i + (i == 0 ? 0 : remainder);
    const int64_t end = std::min(batch * (i + 1) + remainder, frames);
    outputs.push_back(run(x.slice(2, start, end), cache));
  }
  return torch::cat(outputs, 2);
}

}  // namespace

CausalConv3dImpl::CausalConv3dImpl(int64_t in, int64_t out, int64_t kernel)
    : conv(register_module(
          "conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, kernel)
                                        .padding({0, (kernel - 1) / 2, (kernel - 1) / 2})))),
      time_kernel(kernel) {}

torch::Tensor CausalConv3dImpl::forward(const torch::Tensor& x, CausalCache& cache) {
  if (time_kernel == 1) return conv(x);
  const auto found = cache.find(this);
  // The first batch sees copies of its first frame as its past.
  const auto past = found != cache.end()
                        ? found->second
                        : x.slice(2, 0, 1).expand({-1, -1, time_kernel - 1, -1, -1});
  const auto padded = torch::cat({past, x}, 2);
  cache[this] = padded.slice(2, padded.size(2) - (time_kernel - 1)).clone();
  return conv(padded);
}

VaeResnetBlockImpl::VaeResnetBlockImpl(int64_t in, int64_t out, const VaeConfig& config)
    : norm1(register_module("norm1", group_norm(in, config))),
      conv1(register_module("conv1", CausalConv3d(in, out, 3))),
      norm2(register_module("norm2", group_norm(out, config))),
      conv2(register_module("conv2", CausalConv3d(out, out, 3))) {
  if (in != out) conv_shortcut = register_module("conv_shortcut", torch::nn::Conv3d(in, out, 1));
}

torch::Tensor VaeResnetBlockImpl::forward(const torch::Tensor& x, CausalCache& cache) {
  auto h = conv1(torch::silu(norm1(x)), cache);
  h = conv2(torch::silu(norm2(h)), cache);
  return h + (conv_shortcut ? conv_shortcut(x) : x);
}

VaeDownsampleImpl::VaeDownsampleImpl(int64_t channels, bool compress)
    : conv(register_module(
          "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).stride(2)))),
      compress_time(compress) {}

torch::Tensor VaeDownsampleImpl::forward(const torch::Tensor& x) {
  auto h = x;
  if (compress_time && h.size(2) > 1) {
    h = h.size(2) % 2 == 1 ? torch::cat({h.slice(2, 0, 1), average_frame_pairs(h.slice(2, 1))}, 2)
                           : average_frame_pairs(h);
  }
  h = torch::constant_pad_nd(h, {0, 1, 0, 1});  // right and bottom
  const int64_t batch = h.size(0), frames = h.size(2);
  auto per_frame = conv(h.transpose(1, 2).flatten(0, 1));  // (B * T, C, H', W')
  return per_frame.unflatten(0, {batch, frames}).transpose(1, 2);
}

VaeStageImpl::VaeStageImpl(int64_t in, int64_t out, int layers, const VaeConfig& config,
                           bool downsample, bool compress_time)
    : resnets(register_module("resnets", torch::nn::ModuleList())) {
  for (int i = 0; i < layers; ++i)
    resnets->push_back(VaeResnetBlock(i == 0 ? in : out, out, config));
  if (!downsample) return;
  downsamplers = register_module("downsamplers", torch::nn::ModuleList());
  downsamplers->push_back(VaeDownsample(out, compress_time));
}

torch::Tensor VaeStageImpl::forward(const torch::Tensor& x, CausalCache& cache) {
  auto h = x;
  for (const auto& resnet : *resnets) h = resnet->as<VaeResnetBlockImpl>()->forward(h, cache);
  if (downsamplers)
    for (const auto& down : *downsamplers) h = down->as<VaeDownsampleImpl>()->forward(h);
  return h;
}

VaeEncoderImpl::VaeEncoderImpl(const VaeConfig& config) {
  const auto& widths = config.block_out_channels;
  conv_in = register_module("conv_in", CausalConv3d(config.in_channels, widths.front(), 3));
  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  int time_levels = 0;  // log2(temporal_compression): the first blocks that halve time
  while ((1 << time_levels) < config.temporal_compression) ++time_levels;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    const int in = i == 0 ? widths.front() : widths[i - 1];
    down_blocks->push_back(VaeStage(in, widths[i], config.layers_per_block, config,
                                    /*downsample=*/i + 1 < widths.size(),
                                    /*compress_time=*/static_cast<int>(i) < time_levels));
  }
  mid_block =
      register_module("mid_block", VaeStage(widths.back(), widths.back(), 2, config, false, false));
  norm_out = register_module("norm_out", group_norm(widths.back(), config));
  conv_out =
      register_module("conv_out", CausalConv3d(widths.back(), 2 * config.latent_channels, 3));
}

torch::Tensor VaeEncoderImpl::forward(const torch::Tensor& frames, CausalCache& cache) {
  auto h = conv_in(frames, cache);
  for (const auto& block : *down_blocks) h = block->as<VaeStageImpl>()->forward(h, cache);
  h = mid_block(h, cache);
  return conv_out(torch::silu(norm_out(h)), cache);
}

void VaeTiling::validate(const std::string& source) const {
  require(tile_height > 0 && tile_width > 0, source + ": tile size must be positive, got " +
                                                 std::to_string(tile_height) + " x " +
                                                 std::to_string(tile_width));
  require(overlap_height >= 0 && overlap_height < 1 && overlap_width >= 0 && overlap_width < 1,
          source + ": tile overlaps must be in [0, 1), got " + std::to_string(overlap_height) +
              " and " + std::to_string(overlap_width));
}

VaeTiling diffusers_vae_tiling(const VaeConfig& config) {
  // AutoencoderKLCogVideoX.__init__: tile_sample_min_* = sample_* // 2, overlaps 1/6 and 1/5.
  return {.tile_height = config.sample_height / 2, .tile_width = config.sample_width / 2};
}

VaeImpl::VaeImpl(const VaeConfig& cfg, bool with_decoder, std::optional<VaeTiling> tiling)
    : config(cfg), tiling_(std::move(tiling)) {
  config.validate("CogVideoX VAE config");
  if (tiling_) {
    tiling_->validate("CogVideoX VAE tiling");
    require(tiling_->tile_height >= spatial_compression() &&
                tiling_->tile_width >= spatial_compression(),
            "CogVideoX VAE tiling: tiles of " + std::to_string(tiling_->tile_height) + " x " +
                std::to_string(tiling_->tile_width) + " pixels are smaller than one latent (" +
                std::to_string(spatial_compression()) + " pixels)");
  }
  encoder = register_module("encoder", VaeEncoder(config));
  if (!with_decoder) return;
  decoder_ = register_module("decoder", std::make_shared<VaeDecoderImpl>(config));
  if (config.post_quant_conv)
    post_quant_conv = register_module(
        "post_quant_conv", torch::nn::Conv3d(config.out_channels, config.out_channels, 1));
}

int64_t VaeImpl::spatial_compression() const {
  return int64_t{1} << (config.block_out_channels.size() - 1);
}

torch::Tensor VaeImpl::encode_batched(const torch::Tensor& video) {
  return over_frame_batches(
      video, config.frame_batch,
      [this](const torch::Tensor& frames, CausalCache& cache) { return encoder(frames, cache); });
}

torch::Tensor VaeImpl::encode_moments(const torch::Tensor& video) {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kVaeStage);
  require(video.dim() == 5 && video.size(1) == config.in_channels,
          "CogVideoX VAE input must be (batch, " + std::to_string(config.in_channels) +
              ", frames, height, width), got " + c10::str(video.sizes()));
  if (!tiling_ || (video.size(-1) <= tiling_->tile_width && video.size(-2) <= tiling_->tile_height))
    return encode_batched(video);
  // diffusers' tiled_encode: pixel tiles in, latent tiles out.
  const int64_t compression = spatial_compression();
  return vidprobe::nn::tiled_spatial(
      video,
      {vidprobe::nn::overlapping_tile_axis(tiling_->tile_height, tiling_->tile_height / compression,
                                           tiling_->overlap_height),
       vidprobe::nn::overlapping_tile_axis(tiling_->tile_width, tiling_->tile_width / compression,
                                           tiling_->overlap_width)},
      [this](const torch::Tensor& tile) { return encode_batched(tile); });
}

torch::Tensor VaeImpl::decode_batched(const torch::Tensor& latents) {
  return over_frame_batches(latents, kDecoderFrameBatch,
                            [this](const torch::Tensor& frames, CausalCache& cache) {
                              auto z = frames;
                              if (post_quant_conv) z = post_quant_conv(z);
                              return decoder_->forward(z, cache);
                            });
}

torch::Tensor VaeImpl::decode(const torch::Tensor& latents) {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kVaeStage);
  require(decoder_ != nullptr, "the CogVideoX VAE was built without its decoder");
  require(latents.dim() == 5 && latents.size(1) == config.latent_channels,
          "CogVideoX VAE latents must be (batch, " + std::to_string(config.latent_channels) +
              ", frames, height, width), got " + c10::str(latents.sizes()));
  if (!tiling_) return decode_batched(latents);
  const int64_t latent_height = tiling_->tile_height / spatial_compression();
  const int64_t latent_width = tiling_->tile_width / spatial_compression();
  if (latents.size(-1) <= latent_width && latents.size(-2) <= latent_height)
    return decode_batched(latents);
  // diffusers' tiled_decode: latent tiles in, pixel tiles out.
  return vidprobe::nn::tiled_spatial(
      latents,
      {vidprobe::nn::overlapping_tile_axis(latent_height, tiling_->tile_height,
                                           tiling_->overlap_height),
       vidprobe::nn::overlapping_tile_axis(latent_width, tiling_->tile_width,
                                           tiling_->overlap_width)},
      [this](const torch::Tensor& tile) { return decode_batched(tile); });
}

torch::Tensor VaeImpl::encode_mean(const torch::Tensor& video) {
  return encode_moments(video).slice(1, 0, config.latent_channels);
}

void load_vae_encoder(Vae& vae, TensorMap checkpoint, const std::string& source) {
  require(!vae->has_decoder(), "load_vae_encoder: the VAE has a decoder; use load_vae");
  const auto tensors =
      select_backbone_tensors(std::move(checkpoint), {{}, {"decoder.", "post_quant_conv."}});
  load_module_strict(*vae, tensors, source, "CogVideoX VAE encoder");
}

void load_vae(Vae& vae, TensorMap checkpoint, const std::string& source) {
  if (!vae->has_decoder()) return load_vae_encoder(vae, std::move(checkpoint), source);
  load_module_strict(*vae, checkpoint, source, "CogVideoX VAE (encoder and decoder)");
}

}  // namespace vidprobe::backbones::cogvideox
