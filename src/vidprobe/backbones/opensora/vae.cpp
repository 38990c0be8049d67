#include "vidprobe/backbones/opensora/vae.h"

#include <algorithm>
#include <cmath>

#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/nn/spatial_tiling.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones::opensora {
namespace {

constexpr double kEps = 1e-6;

int log2_exact(int value) {
  return static_cast<int>(std::lround(std::log2(value)));
}

}  // namespace

void add_conv(ShapeMap& layout, const std::string& name, int64_t in, int64_t out, int64_t k) {
  layout[name + ".weight"] = {out, in, k, k, k};
  layout[name + ".bias"] = {out};
}

void add_norm(ShapeMap& layout, const std::string& name, int64_t channels) {
  layout[name + ".weight"] = {channels};
  layout[name + ".bias"] = {channels};
}

void add_resnet(ShapeMap& layout, const std::string& p, int64_t in, int64_t out) {
  add_norm(layout, p + "norm1", in);
  add_conv(layout, p + "conv1.conv", in, out, 3);
  add_norm(layout, p + "norm2", out);
  add_conv(layout, p + "conv2.conv", out, out, 3);
  if (in != out) add_conv(layout, p + "conv_shortcut.conv", in, out, 1);
}

void add_mid_block(ShapeMap& layout, const std::string& p, int64_t channels) {
  add_resnet(layout, p + "resnets.0.", channels, channels);
  add_resnet(layout, p + "resnets.1.", channels, channels);
  const auto attn = p + "attentions.0.";
  add_norm(layout, attn + "group_norm", channels);
  for (const std::string name : {"to_q", "to_k", "to_v", "to_out.0"}) {
    layout[attn + name + ".weight"] = {channels, channels};
    layout[attn + name + ".bias"] = {channels};
  }
}

vidprobe::nn::GroupNorm vae_group_norm(int groups, int64_t channels) {
  return vidprobe::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(kEps));
}

// Strides (t, h, w) of down block i's downsampler; {} when it has none.
std::vector<int64_t> resample_factor(const VaeConfig& c, int i) {
  const int blocks = static_cast<int>(c.block_out_channels.size());
  const bool last = i == blocks - 1;
  const int spatial_layers = log2_exact(c.spatial_compression_ratio);
  const bool spatial = i < spatial_layers;
  const bool time = c.time_compression_ratio == 4
                        ? (i >= blocks - 1 - log2_exact(c.time_compression_ratio) && !last)
                        : i < spatial_layers;
  if (!spatial && !time) return {};
  return {time ? 2 : 1, spatial ? 2 : 1, spatial ? 2 : 1};
}

int VaeConfig::tile_latent_size() const {
  return static_cast<int>(sample_size / (1 << (block_out_channels.size() - 1)));
}

void VaeConfig::validate(const std::string& source) const {
  require(!block_out_channels.empty(), "'" + source + "': block_out_channels is empty");
  for (const auto channels : block_out_channels)
    require(channels > 0 && channels % norm_num_groups == 0,
            "'" + source + "': block_out_channels " + std::to_string(channels) +
                " is not a positive multiple of norm_num_groups " +
                std::to_string(norm_num_groups));
  require(time_compression_ratio == 4 || time_compression_ratio == 8,
          "'" + source + "': time_compression_ratio must be 4 or 8, got " +
              std::to_string(time_compression_ratio));
  require(spatial_compression_ratio == 1 << log2_exact(spatial_compression_ratio),
          "'" + source + "': spatial_compression_ratio must be a power of 2");
  require(sample_size > 0 && tile_overlap_factor >= 0 && tile_overlap_factor < 1,
          "'" + source + "': sample_size must be positive and tile_overlap_factor in [0, 1)");
}

VaeConfig vae_config_from_json(const nlohmann::json& json, const std::string& source) {
  const auto ctx = "'" + source + "'";
  VaeConfig c;
  c.in_channels = json_get_or<int>(json, "in_channels", c.in_channels, ctx);
  c.out_channels = json_get_or<int>(json, "out_channels", c.out_channels, ctx);
  c.latent_channels = json_get_or<int>(json, "latent_channels", c.latent_channels, ctx);
  c.layers_per_block = json_get_or<int>(json, "layers_per_block", c.layers_per_block, ctx);
  c.norm_num_groups = json_get_or<int>(json, "norm_num_groups", c.norm_num_groups, ctx);
  c.block_out_channels =
      json_get_or<std::vector<int64_t>>(json, "block_out_channels", c.block_out_channels, ctx);
  c.time_compression_ratio =
      json_get_or<int>(json, "time_compression_ratio", c.time_compression_ratio, ctx);
  c.spatial_compression_ratio =
      json_get_or<int>(json, "spatial_compression_ratio", c.spatial_compression_ratio, ctx);
  c.scale_factor = json_get_or<double>(json, "scale_factor", c.scale_factor, ctx);
  c.shift_factor = json_get_or<double>(json, "shift_factor", c.shift_factor, ctx);
  c.sample_size = json_get_or<int>(json, "sample_size", c.sample_size, ctx);
  c.tile_overlap_factor =
      json_get_or<double>(json, "tile_overlap_factor", c.tile_overlap_factor, ctx);
  c.use_spatial_tiling = json_get_or<bool>(json, "use_spatial_tiling", c.use_spatial_tiling, ctx);
  c.validate(source);
  return c;
}

ShapeMap vae_encoder_layout(const VaeConfig& c) {
  ShapeMap layout;
  const auto& boc = c.block_out_channels;
  add_conv(layout, "encoder.conv_in.conv", c.in_channels, boc[0], 3);
  for (std::size_t i = 0; i < boc.size(); ++i) {
    const auto p = "encoder.down_blocks." + std::to_string(i) + ".";
    for (int j = 0; j < c.layers_per_block; ++j)
      add_resnet(layout, p + "resnets." + std::to_string(j) + ".",
                 j == 0 ? boc[i == 0 ? 0 : i - 1] : boc[i], boc[i]);
    if (!resample_factor(c, static_cast<int>(i)).empty())
      add_conv(layout, p + "downsamplers.0.conv.conv", boc[i], boc[i], 3);
  }
  const auto mid = boc.back();
  add_mid_block(layout, "encoder.mid_block.", mid);
  add_norm(layout, "encoder.conv_norm_out", mid);
  add_conv(layout, "encoder.conv_out.conv", mid, 2 * c.latent_channels, 3);
  add_conv(layout, "quant_conv", 2 * c.latent_channels, 2 * c.latent_channels, 1);
  return layout;
}

CausalConv3dImpl::CausalConv3dImpl(int64_t in, int64_t out, int64_t k, std::vector<int64_t> stride)
    : conv(register_module(
          "conv",
          torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, k)
                                .stride(torch::ExpandingArray<3>(at::IntArrayRef(stride)))))),
      kernel(k) {}

torch::Tensor CausalConv3dImpl::forward(const torch::Tensor& x) {
  const int64_t s = kernel / 2;
  return conv(torch::nn::functional::pad(
      x,
      torch::nn::functional::PadFuncOptions({s, s, s, s, kernel - 1, 0}).mode(torch::kReplicate)));
}

VaeResnetImpl::VaeResnetImpl(int64_t in, int64_t out, int groups) {
  norm1 = register_module("norm1", vae_group_norm(groups, in));
  conv1 = register_module("conv1", CausalConv3d(in, out, 3));
  norm2 = register_module("norm2", vae_group_norm(groups, out));
  conv2 = register_module("conv2", CausalConv3d(out, out, 3));
  if (in != out) conv_shortcut = register_module("conv_shortcut", CausalConv3d(in, out, 1));
}

torch::Tensor VaeResnetImpl::forward(const torch::Tensor& x) {
  auto h = conv1(torch::silu(norm1(x)));
  h = conv2(torch::silu(norm2(h)));
  return (conv_shortcut ? conv_shortcut(x) : x) + h;
}

VaeDownsampleImpl::VaeDownsampleImpl(int64_t channels, std::vector<int64_t> stride)
    : conv(register_module("conv", CausalConv3d(channels, channels, 3, std::move(stride)))) {}

VaeAttentionImpl::VaeAttentionImpl(int64_t channels, int groups) {
  group_norm = register_module("group_norm", vae_group_norm(groups, channels));
  to_q = register_module("to_q", vidprobe::nn::Linear(channels, channels));
  to_k = register_module("to_k", vidprobe::nn::Linear(channels, channels));
  to_v = register_module("to_v", vidprobe::nn::Linear(channels, channels));
  to_out =
      register_module("to_out", torch::nn::ModuleList(vidprobe::nn::Linear(channels, channels)));
}

torch::Tensor VaeAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
  const auto tokens = group_norm(x).flatten(2).transpose(1, 2);  // (B, T*H*W, C)
  const auto frame =
      torch::arange(t, torch::TensorOptions().device(x.device())).repeat_interleave(h * w);
  const auto allowed = frame.unsqueeze(0) <= frame.unsqueeze(1);  // key frame <= query frame
  const auto out = at::scaled_dot_product_attention(
      to_q(tokens).unsqueeze(1), to_k(tokens).unsqueeze(1), to_v(tokens).unsqueeze(1), allowed);
  const auto projected = to_out[0]->as<vidprobe::nn::Linear>()->forward(out.squeeze(1));
  return x + projected.transpose(1, 2).reshape({b, c, t, h, w});
}

VaeBlock make_mid_block(int64_t channels, int groups) {
  VaeBlock block;
  block->attentions =
      block->register_module("attentions", torch::nn::ModuleList(VaeAttention(channels, groups)));
  block->resnets = block->register_module(
      "resnets", torch::nn::ModuleList(VaeResnet(channels, channels, groups),
                                       VaeResnet(channels, channels, groups)));
  return block;
}

torch::Tensor VaeBlockImpl::forward(const torch::Tensor& x) {
  auto h = resnets[0]->as<VaeResnet>()->forward(x);
  for (std::size_t i = 1; i < resnets->size(); ++i) {
    if (attentions && i - 1 < attentions->size())
      h = attentions[i - 1]->as<VaeAttention>()->forward(h);
    h = resnets[i]->as<VaeResnet>()->forward(h);
  }
  if (downsamplers) h = downsamplers[0]->as<VaeDownsample>()->forward(h);
  return h;
}

VaeEncoderImpl::VaeEncoderImpl(const VaeConfig& c) {
  const auto& boc = c.block_out_channels;
  const int g = c.norm_num_groups;
  conv_in = register_module("conv_in", CausalConv3d(c.in_channels, boc[0], 3));
  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  for (std::size_t i = 0; i < boc.size(); ++i) {
    VaeBlock block;
    block->resnets = block->register_module("resnets", torch::nn::ModuleList());
    for (int j = 0; j < c.layers_per_block; ++j)
      block->resnets->push_back(VaeResnet(j == 0 ? boc[i == 0 ? 0 : i - 1] : boc[i], boc[i], g));
    const auto stride = resample_factor(c, static_cast<int>(i));
    if (!stride.empty())
      block->downsamplers = block->register_module(
          "downsamplers", torch::nn::ModuleList(VaeDownsample(boc[i], stride)));
    down_blocks->push_back(block);
  }
  const auto mid = boc.back();
  mid_block = register_module("mid_block", make_mid_block(mid, g));
  conv_norm_out = register_module("conv_norm_out", vae_group_norm(g, mid));
  conv_out = register_module("conv_out", CausalConv3d(mid, 2 * c.latent_channels, 3));
}

torch::Tensor VaeEncoderImpl::forward(const torch::Tensor& x) {
  auto h = conv_in(x);
  for (const auto& block : *down_blocks) h = block->as<VaeBlock>()->forward(h);
  h = mid_block(h);
  return conv_out(torch::silu(conv_norm_out(h)));
}

VaeImpl::VaeImpl(const VaeConfig& c) : config(c) {
  config.validate("Open-Sora VAE config");
  encoder = register_module("encoder", VaeEncoder(c));
  quant_conv = register_module("quant_conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(
                                                 2 * c.latent_channels, 2 * c.latent_channels, 1)));
}

torch::Tensor VaeImpl::encode_tile(const torch::Tensor& video) {
  return quant_conv(encoder(video));
}

torch::Tensor VaeImpl::tiled_moments(const torch::Tensor& x) {
  // The official spatial_tiled_encode: pixel tiles in, latent tiles out.
  const auto axis = vidprobe::nn::overlapping_tile_axis(
      config.sample_size, config.tile_latent_size(), config.tile_overlap_factor);
  return vidprobe::nn::tiled_spatial(x, {axis, axis},
                                     [this](const torch::Tensor& t) { return encode_tile(t); });
}

torch::Tensor VaeImpl::moments(const torch::Tensor& video) {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kVaeStage);
  require(video.dim() == 5 && video.size(1) == config.in_channels,
          "Open-Sora VAE: video must be (B, " + std::to_string(config.in_channels) +
              ", T, H, W), got " + c10::str(video.sizes()));
  const auto x = video.to(quant_conv->weight.scalar_type());
  if (config.use_spatial_tiling &&
      (x.size(-1) > config.sample_size || x.size(-2) > config.sample_size))
    return tiled_moments(x);
  return encode_tile(x);
}

torch::Tensor VaeImpl::encode_mean(const torch::Tensor& video) {
  const auto mean = moments(video).slice(1, 0, config.latent_channels).to(torch::kFloat32);
  return config.scale_factor * (mean - config.shift_factor);
}

std::vector<int64_t> VaeImpl::latent_size(int64_t frames, int64_t height, int64_t width) const {
  return {(frames - 1) / config.time_compression_ratio + 1,
          (height - 1) / config.spatial_compression_ratio + 1,
          (width - 1) / config.spatial_compression_ratio + 1};
}

void load_vae(Vae& vae, TensorMap checkpoint, const std::string& source) {
  const auto tensors = select_backbone_tensors(
      std::move(checkpoint),
      {.wrapper_prefixes = {}, .ignored_prefixes = {"decoder.", "post_quant_conv."}});
  const auto architecture = "Hunyuan causal video VAE encoder";
  require_layout(tensors, vae_encoder_layout(vae->config), source, architecture);
  load_module_strict(*vae, tensors, source, architecture);
}

}  // namespace vidprobe::backbones::opensora
