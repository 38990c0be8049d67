#pragma once
// The encoder of the CogVideoX 3D causal VAE (diffusers' AutoencoderKLCogVideoX.encode; the
// decoder is not needed for features). Module names equal diffusers' (encoder.conv_in.conv.weight,
// encoder.down_blocks.0.resnets.0.norm1.weight, ...), so a published vae/ folder loads by name.
//
//  video (B, 3, T, H, W) in [-1, 1] --causal Conv3d--> down blocks (ResNet blocks of GroupNorm,
//  SiLU, causal Conv3d; then a stride-2 Conv2d per frame, averaging frame pairs in the first
//  log2(temporal_compression) blocks) --> mid block (2 ResNet blocks) --> GroupNorm, SiLU,
//  causal Conv3d --> moments (B, 2 * latent, 1 + (T - 1) / 4, H / 8, W / 8) = [mean | logvar].
//
// Causal convs pad in time with copies of the first frame. Like diffusers, the clip is encoded in
// frame batches of 8 (the first also taking the remainder: 49 frames as 9, 8, 8, 8, 8, 8), each
// causal conv passing its last two input frames on to the next batch; GroupNorm statistics are
// per batch, so the batching is part of the maths.
#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/backbones/cogvideox/config.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox {

// The last input frames of every causal conv, carried from one frame batch to the next.
using CausalCache = std::map<const torch::nn::Module*, torch::Tensor>;

struct CausalConv3dImpl : torch::nn::Module {
  CausalConv3dImpl(int64_t in, int64_t out, int64_t kernel);
  torch::Tensor forward(const torch::Tensor& x, CausalCache& cache);
  torch::nn::Conv3d conv{nullptr};
  int64_t time_kernel;
};
TORCH_MODULE(CausalConv3d);

struct VaeResnetBlockImpl : torch::nn::Module {
  VaeResnetBlockImpl(int64_t in, int64_t out, const VaeConfig& config);
  torch::Tensor forward(const torch::Tensor& x, CausalCache& cache);
  torch::nn::GroupNorm norm1{nullptr};
  CausalConv3d conv1{nullptr};
  torch::nn::GroupNorm norm2{nullptr};
  CausalConv3d conv2{nullptr};
  torch::nn::Conv3d conv_shortcut{nullptr};  // 1x1x1, when the width changes
};
TORCH_MODULE(VaeResnetBlock);

// Stride-2 Conv2d per frame after right/bottom zero padding; with compress_time, frame pairs are
// averaged first (an odd first frame is kept alone).
struct VaeDownsampleImpl : torch::nn::Module {
  VaeDownsampleImpl(int64_t channels, bool compress_time);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv{nullptr};
  bool compress_time;
};
TORCH_MODULE(VaeDownsample);

// resnets.<i> then (except in the last block) downsamplers.0; the mid block has resnets only.
struct VaeStageImpl : torch::nn::Module {
  VaeStageImpl(int64_t in, int64_t out, int layers, const VaeConfig& config, bool downsample,
               bool compress_time);
  torch::Tensor forward(const torch::Tensor& x, CausalCache& cache);
  torch::nn::ModuleList resnets{nullptr}, downsamplers{nullptr};
};
TORCH_MODULE(VaeStage);

struct VaeEncoderImpl : torch::nn::Module {
  explicit VaeEncoderImpl(const VaeConfig& config);
  // One frame batch; cache carries the causal convs' context between batches.
  torch::Tensor forward(const torch::Tensor& frames, CausalCache& cache);
  CausalConv3d conv_in{nullptr};
  torch::nn::ModuleList down_blocks{nullptr};
  VaeStage mid_block{nullptr};
  torch::nn::GroupNorm norm_out{nullptr};
  CausalConv3d conv_out{nullptr};
};
TORCH_MODULE(VaeEncoder);

struct VaeDecoderImpl;

struct VaeImpl : torch::nn::Module {
  // with_decoder: also decoder.* (and post_quant_conv when the config has one; vae_decoder.h).
  explicit VaeImpl(const VaeConfig& config, bool with_decoder = false);
  // video (B, in_channels, T, H, W) in [-1, 1] -> moments (B, 2 * latent, T', H / 8, W / 8), in
  // diffusers' frame batches.
  torch::Tensor encode_moments(const torch::Tensor& video);
  // The posterior mean (B, latent, T', H / 8, W / 8), unscaled.
  torch::Tensor encode_mean(const torch::Tensor& video);
  // Unscaled latents (B, latent, F', h, w) -> video (B, out_channels, 1 + 4 (F' - 1), H, W),
  // about [-1, 1] and not clamped, in diffusers' latent frame batches (needs the decoder).
  torch::Tensor decode(const torch::Tensor& latents);
  bool has_decoder() const { return decoder_ != nullptr; }
  VaeConfig config;
  VaeEncoder encoder{nullptr};
  torch::nn::Conv3d post_quant_conv{nullptr};

 private:
  std::shared_ptr<VaeDecoderImpl> decoder_;  // registered as "decoder"
};
TORCH_MODULE(Vae);

// Loads the encoder.* tensors of a diffusers VAE checkpoint strictly (decoder.* and
// post_quant_conv.* are skipped); errors name the source and the keys at fault.
void load_vae_encoder(Vae& vae, TensorMap checkpoint, const std::string& source);
// Loads every tensor of the module (encoder, and the decoder when built) strictly: with the
// decoder nothing is skipped, and a missing or unexpected key is named.
void load_vae(Vae& vae, TensorMap checkpoint, const std::string& source);

}  // namespace vidprobe::backbones::cogvideox
