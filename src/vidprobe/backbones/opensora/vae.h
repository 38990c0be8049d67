#pragma once
// The encoder of Open-Sora 2.0's video VAE, HunyuanVideo's causal 3D VAE
// (opensora/models/hunyuan_vae, AutoencoderKLCausal3D.encode; the decoder, needed only by
// `vidprobe check`, is in vae_decoder.h). Module names equal the official ones
// (encoder.down_blocks.0.resnets.0.conv1.conv.weight, quant_conv.weight, ...), so
// hunyuan_vae.safetensors loads by name (load_vae skips its decoder half, load_vae_decoder reads
// it).
//
//  video (B, 3, T, H, W) in [-1, 1] --causal Conv3d--> down blocks (ResNet blocks of GroupNorm,
//  SiLU, causal Conv3d; then a strided causal Conv3d: 2x2 in space in the first three, 2 in time
//  in the second and third) --> mid block (ResNet, frame-causal self-attention, ResNet) -->
//  GroupNorm, SiLU, causal Conv3d --> quant_conv --> moments (B, 2 * 16, 1 + (T - 1) / 4, H / 8,
//  W / 8) = [mean | logvar]; latents = scale_factor * (mean - shift_factor).
//
// Causal convs pad in time with copies of the first frame and in space with edge copies
// (replicate). With spatial tiling on (the inference configs), inputs taller or wider than
// sample_size pixels are encoded in overlapping sample_size tiles whose moments are blended
// linearly where they overlap, as the official spatial_tiled_encode does; the tiling is part of
// the maths, since GroupNorm statistics and attention are per tile.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/nn/group_norm.h"
#include "vidprobe/nn/linear.h"

namespace vidprobe::backbones::opensora {

// Field names follow the official AutoEncoder3DConfig.
struct VaeConfig {
  int in_channels = 3;
  int out_channels = 3;  // the decoder's
  int latent_channels = 16;
  int layers_per_block = 2;
  int norm_num_groups = 32;
  std::vector<int64_t> block_out_channels{128, 256, 512, 512};
  int time_compression_ratio = 4;
  int spatial_compression_ratio = 8;
  double scale_factor = 0.476986;
  double shift_factor = 0.0;
  int sample_size = 256;  // tile size in pixels
  double tile_overlap_factor = 0.25;
  bool use_spatial_tiling = true;  // configs/diffusion/inference/256px.py

  int tile_latent_size() const;
  void validate(const std::string& source) const;
};
VaeConfig vae_config_from_json(const nlohmann::json& json, const std::string& source);
// Keys and shapes of the encoder half (encoder.*, quant_conv.*) of the official state_dict.
ShapeMap vae_encoder_layout(const VaeConfig& config);

// Shared by the encoder and the decoder (vae_decoder.h).
// GroupNorm with the official eps (1e-6).
vidprobe::nn::GroupNorm vae_group_norm(int groups, int64_t channels);
// Factors (t, h, w) of down block i's downsampler, which are also those of up block i's upsampler
// (the official constructors apply one rule to both); {} when the block has none.
std::vector<int64_t> resample_factor(const VaeConfig& config, int i);
// Layout pieces: Conv3d (cubic kernel k), GroupNorm, ResNet block, mid block (2 ResNets, 1
// attention) under a key prefix.
void add_conv(ShapeMap& layout, const std::string& name, int64_t in, int64_t out, int64_t k);
void add_norm(ShapeMap& layout, const std::string& name, int64_t channels);
void add_resnet(ShapeMap& layout, const std::string& prefix, int64_t in, int64_t out);
void add_mid_block(ShapeMap& layout, const std::string& prefix, int64_t channels);

// Replicate-padded causal Conv3d (pad k - 1 frames in front, k / 2 pixels on each side).
struct CausalConv3dImpl : torch::nn::Module {
  CausalConv3dImpl(int64_t in, int64_t out, int64_t kernel,
                   std::vector<int64_t> stride = {1, 1, 1});
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv3d conv{nullptr};
  int64_t kernel;
};
TORCH_MODULE(CausalConv3d);

struct VaeResnetImpl : torch::nn::Module {
  VaeResnetImpl(int64_t in, int64_t out, int groups);
  torch::Tensor forward(const torch::Tensor& x);
  vidprobe::nn::GroupNorm norm1{nullptr};
  CausalConv3d conv1{nullptr};
  vidprobe::nn::GroupNorm norm2{nullptr};
  CausalConv3d conv2{nullptr};
  CausalConv3d conv_shortcut{nullptr};  // 1x1x1, when the width changes
};
TORCH_MODULE(VaeResnet);

struct VaeDownsampleImpl : torch::nn::Module {
  VaeDownsampleImpl(int64_t channels, std::vector<int64_t> stride);
  torch::Tensor forward(const torch::Tensor& x) { return conv(x); }
  CausalConv3d conv{nullptr};
};
TORCH_MODULE(VaeDownsample);

// Single-head self-attention over all tokens of a (B, C, T, H, W) map, each token seeing the
// tokens of its own and earlier frames; GroupNorm first, residual added (diffusers' Attention of
// a deprecated attention block).
struct VaeAttentionImpl : torch::nn::Module {
  VaeAttentionImpl(int64_t channels, int groups);
  torch::Tensor forward(const torch::Tensor& x);
  vidprobe::nn::GroupNorm group_norm{nullptr};
  vidprobe::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
  torch::nn::ModuleList to_out{nullptr};
};
TORCH_MODULE(VaeAttention);

struct VaeBlockImpl : torch::nn::Module {  // a down block, or the mid block (with attention)
  torch::nn::ModuleList resnets{nullptr}, downsamplers{nullptr}, attentions{nullptr};
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(VaeBlock);
VaeBlock make_mid_block(int64_t channels, int groups);

struct VaeEncoderImpl : torch::nn::Module {
  explicit VaeEncoderImpl(const VaeConfig& config);
  torch::Tensor forward(const torch::Tensor& x);
  CausalConv3d conv_in{nullptr};
  torch::nn::ModuleList down_blocks{nullptr};
  VaeBlock mid_block{nullptr};
  vidprobe::nn::GroupNorm conv_norm_out{nullptr};
  CausalConv3d conv_out{nullptr};
};
TORCH_MODULE(VaeEncoder);

struct VaeImpl : torch::nn::Module {
  explicit VaeImpl(const VaeConfig& config);
  // video (B, 3, T, H, W) in [-1, 1] -> moments (B, 2 * latent, T', H', W'), tiled as configured.
  torch::Tensor moments(const torch::Tensor& video);
  // scale_factor * (posterior mean - shift_factor), float32.
  torch::Tensor encode_mean(const torch::Tensor& video);
  // The latent grid of a (T, H, W) input.
  std::vector<int64_t> latent_size(int64_t frames, int64_t height, int64_t width) const;

  VaeConfig config;
  VaeEncoder encoder{nullptr};
  torch::nn::Conv3d quant_conv{nullptr};

 private:
  torch::Tensor encode_tile(const torch::Tensor& video);
  torch::Tensor tiled_moments(const torch::Tensor& video);
};
TORCH_MODULE(Vae);

// Loads the official checkpoint strictly: the encoder half must be exactly vae_encoder_layout;
// decoder.* and post_quant_conv.* are dropped.
void load_vae(Vae& vae, TensorMap checkpoint, const std::string& source);

}  // namespace vidprobe::backbones::opensora
