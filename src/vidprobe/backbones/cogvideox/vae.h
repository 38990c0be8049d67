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
//
// With tiling (diffusers' enable_tiling(), which the Aether authors' extraction calls), frames
// larger than a tile are encoded (and decoded) in overlapping spatial tiles, each tile in its own
// frame batches with its own causal context, blended linearly where they overlap
// (nn::tiled_spatial); per-tile GroupNorm statistics make the result differ from the whole frame.
#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vidprobe/backbones/cogvideox/config.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/nn/group_norm.h"

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
  vidprobe::nn::GroupNorm norm1{nullptr};
  CausalConv3d conv1{nullptr};
  vidprobe::nn::GroupNorm norm2{nullptr};
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
  vidprobe::nn::GroupNorm norm_out{nullptr};
  CausalConv3d conv_out{nullptr};
};
TORCH_MODULE(VaeEncoder);

struct VaeDecoderImpl;

// diffusers' tiling state: tiles of tile_height x tile_width pixels (tile_sample_min_height /
// width; the latent tile is that over the spatial compression, truncated), consecutive tiles
// sharing overlap_height / overlap_width of a tile (tile_overlap_factor_height / width).
struct VaeTiling {
  int64_t tile_height = 240, tile_width = 360;
  double overlap_height = 1.0 / 6, overlap_width = 1.0 / 5;
  void validate(const std::string& source) const;
};
// What enable_tiling() without arguments sets for this VAE: half the config's sample size, and
// diffusers' fixed overlaps 1/6 (height) and 1/5 (width). 240 x 360 tiles for the published VAEs.
VaeTiling diffusers_vae_tiling(const VaeConfig& config);

struct VaeImpl : torch::nn::Module {
  // with_decoder: also decoder.* (and post_quant_conv when the config has one; vae_decoder.h).
  // tiling: encode and decode in spatial tiles (diffusers' use_tiling); none: whole frames.
  explicit VaeImpl(const VaeConfig& config, bool with_decoder = false,
                   std::optional<VaeTiling> tiling = std::nullopt);
  // video (B, in_channels, T, H, W) in [-1, 1] -> moments (B, 2 * latent, T', H / 8, W / 8), in
  // diffusers' frame batches; tiled when tiling is set and the frame exceeds a tile.
  torch::Tensor encode_moments(const torch::Tensor& video);
  // The posterior mean (B, latent, T', H / 8, W / 8), unscaled.
  torch::Tensor encode_mean(const torch::Tensor& video);
  // Unscaled latents (B, latent, F', h, w) -> video (B, out_channels, 1 + 4 (F' - 1), H, W),
  // about [-1, 1] and not clamped, in diffusers' latent frame batches (needs the decoder);
  // tiled when tiling is set and the latents exceed a latent tile.
  torch::Tensor decode(const torch::Tensor& latents);
  bool has_decoder() const { return decoder_ != nullptr; }
  const std::optional<VaeTiling>& tiling() const { return tiling_; }
  VaeConfig config;
  VaeEncoder encoder{nullptr};
  torch::nn::Conv3d post_quant_conv{nullptr};

 private:
  // One tile (or the whole frame) through the encoder / decoder in frame batches, the causal
  // context carried across this tile's batches only.
  torch::Tensor encode_batched(const torch::Tensor& video);
  torch::Tensor decode_batched(const torch::Tensor& latents);
  // 2^(blocks - 1): what diffusers divides the pixel tile by to get the latent tile.
  int64_t spatial_compression() const;
  std::shared_ptr<VaeDecoderImpl> decoder_;  // registered as "decoder"
  std::optional<VaeTiling> tiling_;
};
TORCH_MODULE(Vae);

// Loads the encoder.* tensors of a diffusers VAE checkpoint strictly (decoder.* and
// post_quant_conv.* are skipped); errors name the source and the keys at fault.
void load_vae_encoder(Vae& vae, TensorMap checkpoint, const std::string& source);
// Loads every tensor of the module (encoder, and the decoder when built) strictly: with the
// decoder nothing is skipped, and a missing or unexpected key is named.
void load_vae(Vae& vae, TensorMap checkpoint, const std::string& source);

}  // namespace vidprobe::backbones::cogvideox
