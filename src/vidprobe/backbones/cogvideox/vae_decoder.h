#pragma once
// The decoder of the CogVideoX 3D causal VAE (diffusers' AutoencoderKLCogVideoX.decode /
// CogVideoXDecoder3D), for `vidprobe check`. Module names equal diffusers' below `decoder.`
// (decoder.conv_in.conv.weight, decoder.up_blocks.0.resnets.0.norm1.conv_y.conv.weight, ...).
//
//  latents z (B, C, F', h, w), unscaled --causal Conv3d--> mid block (2 ResNet blocks) --> up
//  blocks (layers_per_block + 1 ResNet blocks, then except in the last block a nearest 2x
//  upsampling and a Conv2d per frame; the first log2(temporal_compression) blocks also double
//  time, an odd first frame staying alone) --> spatial norm, SiLU, causal Conv3d --> video
//  (B, 3, 1 + 4 (F' - 1), 8 h, 8 w), about [-1, 1] (not clamped).
//
// Every norm is a spatial norm (CogVideoXSpatialNorm3D): GroupNorm of the features, times and
// plus 1x1x1 convs of z resized (nearest) to the features' size; with an odd frame count z's
// first frame is resized to the first feature frame alone, the rest to the rest, so the causal
// first frame never mixes with later ones. Like diffusers, latents are decoded in frame batches
// of kDecoderFrameBatch (the first also taking the remainder: 13 as 3, 2, 2, 2, 2, 2), each causal
// conv passing its last two input frames on; GroupNorm statistics are per batch.
#include <torch/torch.h>

#include "vidprobe/backbones/cogvideox/config.h"
#include "vidprobe/backbones/cogvideox/vae.h"

namespace vidprobe::backbones::cogvideox {

// diffusers' num_latent_frames_batch_size (hard-coded there, not in config.json).
inline constexpr int64_t kDecoderFrameBatch = 2;

struct SpatialNorm3dImpl : torch::nn::Module {
  SpatialNorm3dImpl(int64_t channels, int64_t latent_channels, int groups);
  torch::Tensor forward(const torch::Tensor& features, const torch::Tensor& latents,
                        CausalCache& cache);
  vidprobe::nn::GroupNorm norm_layer{nullptr};
  CausalConv3d conv_y{nullptr}, conv_b{nullptr};
};
TORCH_MODULE(SpatialNorm3d);

struct DecoderResnetBlockImpl : torch::nn::Module {
  DecoderResnetBlockImpl(int64_t in, int64_t out, const VaeConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& latents, CausalCache& cache);
  SpatialNorm3d norm1{nullptr};
  CausalConv3d conv1{nullptr};
  SpatialNorm3d norm2{nullptr};
  CausalConv3d conv2{nullptr};
  torch::nn::Conv3d conv_shortcut{nullptr};  // 1x1x1, when the width changes
};
TORCH_MODULE(DecoderResnetBlock);

// Nearest 2x in height and width (and in time with compress_time, an odd first frame kept
// single), then a padded 3x3 Conv2d per frame (CogVideoXUpsample3D).
struct VaeUpsampleImpl : torch::nn::Module {
  VaeUpsampleImpl(int64_t channels, bool compress_time);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv{nullptr};
  bool compress_time;
};
TORCH_MODULE(VaeUpsample);

// resnets.<i> then (except in the last block) upsamplers.0; the mid block has resnets only.
struct DecoderStageImpl : torch::nn::Module {
  DecoderStageImpl(int64_t in, int64_t out, int layers, const VaeConfig& config, bool upsample,
                   bool compress_time);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& latents, CausalCache& cache);
  torch::nn::ModuleList resnets{nullptr}, upsamplers{nullptr};
};
TORCH_MODULE(DecoderStage);

struct VaeDecoderImpl : torch::nn::Module {
  explicit VaeDecoderImpl(const VaeConfig& config);
  // One frame batch of latents (B, C, F, h, w); cache carries the causal convs' context.
  torch::Tensor forward(const torch::Tensor& latents, CausalCache& cache);
  CausalConv3d conv_in{nullptr};
  DecoderStage mid_block{nullptr};
  torch::nn::ModuleList up_blocks{nullptr};
  SpatialNorm3d norm_out{nullptr};
  CausalConv3d conv_out{nullptr};
};
TORCH_MODULE(VaeDecoder);

}  // namespace vidprobe::backbones::cogvideox
