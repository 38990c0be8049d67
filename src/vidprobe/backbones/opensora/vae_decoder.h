#pragma once
// The decoder of Open-Sora 2.0's Hunyuan causal 3D VAE (opensora/models/hunyuan_vae,
// AutoencoderKLCausal3D.decode), for `vidprobe check`. Module names equal the official ones
// (decoder.up_blocks.0.upsamplers.0.conv.conv.weight, post_quant_conv.weight, ...), so the
// decoder half of hunyuan_vae.safetensors loads by name.
//
//  latents (B, 16, T', h, w) / scale_factor + shift_factor --post_quant_conv--> causal Conv3d -->
//  mid block (ResNet, frame-causal self-attention, ResNet) --> up blocks (layers_per_block + 1
//  ResNets, then nearest upsampling and a causal Conv3d: 2x2 in space in the first three, 2 in
//  time in the second and third, the first frame upsampled in space only) --> GroupNorm, SiLU,
//  causal Conv3d --> video (B, 3, 1 + 4 (T' - 1), 8h, 8w) in about [-1, 1].
//
// With spatial tiling on, latents taller or wider than a latent tile are decoded in overlapping
// tiles blended linearly in pixels, as the official spatial_tiled_decode does.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/opensora/vae.h"

namespace vidprobe::backbones::opensora {

// Keys and shapes of the decoder half (decoder.*, post_quant_conv.*) of the official state_dict.
ShapeMap vae_decoder_layout(const VaeConfig& config);

// Nearest upsampling by `factor` (t, h, w), the first frame in space only (so 1 + 2 (T - 1)
// frames come out of T), then a causal Conv3d.
struct VaeUpsampleImpl : torch::nn::Module {
  VaeUpsampleImpl(int64_t channels, std::vector<int64_t> factor);
  torch::Tensor forward(const torch::Tensor& x);
  CausalConv3d conv{nullptr};
  std::vector<double> factor;
};
TORCH_MODULE(VaeUpsample);

struct VaeUpBlockImpl : torch::nn::Module {
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::ModuleList resnets{nullptr}, upsamplers{nullptr};
};
TORCH_MODULE(VaeUpBlock);

struct VaeDecoderImpl : torch::nn::Module {  // the official DecoderCausal3D
  explicit VaeDecoderImpl(const VaeConfig& config);
  torch::Tensor forward(const torch::Tensor& z);
  CausalConv3d conv_in{nullptr};
  VaeBlock mid_block{nullptr};
  torch::nn::ModuleList up_blocks{nullptr};
  vidprobe::nn::GroupNorm conv_norm_out{nullptr};
  CausalConv3d conv_out{nullptr};
};
TORCH_MODULE(VaeDecoder);

// The decoding half of AutoencoderKLCausal3D: its keys sit beside the encoder's at the top level
// of the checkpoint (decoder.*, post_quant_conv.*).
struct VaeDecodingImpl : torch::nn::Module {
  explicit VaeDecodingImpl(const VaeConfig& config);
  // The official decode(): latents (B, C, T', h, w) as the network sees them (scaled) -> video
  // (B, 3, T, H, W), float32, tiled as configured.
  torch::Tensor decode(const torch::Tensor& latents);

  VaeConfig config;
  VaeDecoder decoder{nullptr};
  torch::nn::Conv3d post_quant_conv{nullptr};

 private:
  torch::Tensor decode_tile(const torch::Tensor& z);
  torch::Tensor tiled_decode(const torch::Tensor& z);
};
TORCH_MODULE(VaeDecoding);

// Loads the decoder half of the official checkpoint strictly (exactly vae_decoder_layout; the
// encoder half, checked by load_vae, is skipped).
void load_vae_decoder(VaeDecoding& decoding, TensorMap checkpoint, const std::string& source);

}  // namespace vidprobe::backbones::opensora
