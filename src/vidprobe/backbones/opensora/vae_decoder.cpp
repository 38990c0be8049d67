#include "vidprobe/backbones/opensora/vae_decoder.h"

#include "vidprobe/core/error.h"
#include "vidprobe/nn/spatial_tiling.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones::opensora {
namespace {

// Up block i's widths: it reads the previous block's output (the deepest width for the first).
struct UpWidths {
  int64_t in, out;
};
UpWidths up_widths(const VaeConfig& c, std::size_t i) {
  const auto& boc = c.block_out_channels;
  const std::size_t n = boc.size();
  return {boc[n - (i == 0 ? 1 : i)], boc[n - 1 - i]};
}

}  // namespace

ShapeMap vae_decoder_layout(const VaeConfig& c) {
  ShapeMap layout;
  const auto& boc = c.block_out_channels;
  add_conv(layout, "decoder.conv_in.conv", c.latent_channels, boc.back(), 3);
  add_mid_block(layout, "decoder.mid_block.", boc.back());
  for (std::size_t i = 0; i < boc.size(); ++i) {
    const auto p = "decoder.up_blocks." + std::to_string(i) + ".";
    const auto [in, out] = up_widths(c, i);
    for (int j = 0; j <= c.layers_per_block; ++j)
      add_resnet(layout, p + "resnets." + std::to_string(j) + ".", j == 0 ? in : out, out);
    if (!resample_factor(c, static_cast<int>(i)).empty())
      add_conv(layout, p + "upsamplers.0.conv.conv", out, out, 3);
  }
  add_norm(layout, "decoder.conv_norm_out", boc.front());
  add_conv(layout, "decoder.conv_out.conv", boc.front(), c.out_channels, 3);
  add_conv(layout, "post_quant_conv", c.latent_channels, c.latent_channels, 1);
  return layout;
}

VaeUpsampleImpl::VaeUpsampleImpl(int64_t channels, std::vector<int64_t> f)
    : conv(register_module("conv", CausalConv3d(channels, channels, 3))),
      factor(f.begin(), f.end()) {}

torch::Tensor VaeUpsampleImpl::forward(const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  // The first frame is a still image to the causal VAE: it is never doubled in time.
  auto first =
      F::interpolate(x.select(2, 0), F::InterpolateFuncOptions()
                                         .scale_factor(std::vector<double>{factor[1], factor[2]})
                                         .mode(torch::kNearest))
          .unsqueeze(2);
  if (x.size(2) == 1) return conv(first);
  const auto rest = F::interpolate(
      x.slice(2, 1), F::InterpolateFuncOptions().scale_factor(factor).mode(torch::kNearest));
  return conv(torch::cat({first, rest}, 2));
}

torch::Tensor VaeUpBlockImpl::forward(const torch::Tensor& x) {
  auto h = x;
  for (const auto& resnet : *resnets) h = resnet->as<VaeResnet>()->forward(h);
  if (upsamplers) h = upsamplers[0]->as<VaeUpsample>()->forward(h);
  return h;
}

VaeDecoderImpl::VaeDecoderImpl(const VaeConfig& c) {
  const auto& boc = c.block_out_channels;
  const int g = c.norm_num_groups;
  conv_in = register_module("conv_in", CausalConv3d(c.latent_channels, boc.back(), 3));
  mid_block = register_module("mid_block", make_mid_block(boc.back(), g));
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  for (std::size_t i = 0; i < boc.size(); ++i) {
    const auto [in, out] = up_widths(c, i);
    VaeUpBlock block;
    block->resnets = block->register_module("resnets", torch::nn::ModuleList());
    for (int j = 0; j <= c.layers_per_block; ++j)
      block->resnets->push_back(VaeResnet(j == 0 ? in : out, out, g));
    const auto factor = resample_factor(c, static_cast<int>(i));
    if (!factor.empty())
      block->upsamplers =
          block->register_module("upsamplers", torch::nn::ModuleList(VaeUpsample(out, factor)));
    up_blocks->push_back(block);
  }
  conv_norm_out = register_module("conv_norm_out", vae_group_norm(g, boc.front()));
  conv_out = register_module("conv_out", CausalConv3d(boc.front(), c.out_channels, 3));
}

torch::Tensor VaeDecoderImpl::forward(const torch::Tensor& z) {
  auto h = mid_block(conv_in(z));
  for (const auto& block : *up_blocks) h = block->as<VaeUpBlock>()->forward(h);
  return conv_out(torch::silu(conv_norm_out(h)));
}

VaeDecodingImpl::VaeDecodingImpl(const VaeConfig& c) : config(c) {
  config.validate("Open-Sora VAE config");
  decoder = register_module("decoder", VaeDecoder(c));
  post_quant_conv = register_module(
      "post_quant_conv",
      torch::nn::Conv3d(torch::nn::Conv3dOptions(c.latent_channels, c.latent_channels, 1)));
}

torch::Tensor VaeDecodingImpl::decode_tile(const torch::Tensor& z) {
  return decoder(post_quant_conv(z));
}

torch::Tensor VaeDecodingImpl::tiled_decode(const torch::Tensor& z) {
  // The official spatial_tiled_decode: latent tiles in, pixel tiles out.
  const auto axis = vidprobe::nn::overlapping_tile_axis(
      config.tile_latent_size(), config.sample_size, config.tile_overlap_factor);
  return vidprobe::nn::tiled_spatial(z, {axis, axis},
                                     [this](const torch::Tensor& t) { return decode_tile(t); });
}

torch::Tensor VaeDecodingImpl::decode(const torch::Tensor& latents) {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kVaeStage);
  require(latents.dim() == 5 && latents.size(1) == config.latent_channels,
          "Open-Sora VAE decoder: latents must be (B, " + std::to_string(config.latent_channels) +
              ", T, h, w), got " + c10::str(latents.sizes()));
  const auto z = (latents.to(torch::kFloat32) / config.scale_factor + config.shift_factor)
                     .to(post_quant_conv->weight.scalar_type());
  const int64_t latent_tile = config.tile_latent_size();
  const bool tiled =
      config.use_spatial_tiling && (z.size(-1) > latent_tile || z.size(-2) > latent_tile);
  return (tiled ? tiled_decode(z) : decode_tile(z)).to(torch::kFloat32);
}

void load_vae_decoder(VaeDecoding& decoding, TensorMap checkpoint, const std::string& source) {
  const auto tensors = select_backbone_tensors(
      std::move(checkpoint),
      {.wrapper_prefixes = {}, .ignored_prefixes = {"encoder.", "quant_conv."}});
  const auto architecture = "Hunyuan causal video VAE decoder";
  require_layout(tensors, vae_decoder_layout(decoding->config), source, architecture);
  load_module_strict(*decoding, tensors, source, architecture);
}

}  // namespace vidprobe::backbones::opensora
