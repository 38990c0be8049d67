#pragma once
// The WAN2.1 VAE (Wan-Video/Wan2.1 wan/modules/vae.py; diffusers AutoencoderKLWan): the encoder
// turns a video in [-1, 1] into latents compressed 4x in time and 8x in space, the decoder turns
// latents back into a video.
//
// All its temporal convolutions are causal. Like the reference, the encoder streams the clip in
// chunks — the first frame alone, then 4 frames at a time — and carries a per-convolution cache of
// the last input frames from chunk to chunk, so memory stays bounded by a chunk whatever the clip
// length. The temporal downsamplers pass the first chunk through untouched and then convolve with
// stride 2 over the previous chunk's last frame and the new frames; this is why a clip of 4k + 1
// frames gives 1 + k latent frames, latent 0 seeing only video frame 0 and latent k (k >= 1)
// seeing frames up to 4k.
//
// The decoder mirrors it: one latent frame per chunk, with the same kind of cache; its temporal
// upsamplers pass the first chunk through (latent 0 -> 1 frame) and double the frames of every
// later chunk with a causal time convolution whose two output halves interleave (latent k -> 4
// frames after the two temporal upsamplers), so 1 + k latent frames decode to 4k + 1 frames.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "vidprobe/backbones/wan/checkpoint.h"
#include "vidprobe/backbones/wan/config.h"
#include "vidprobe/backbones/wan/layers.h"

namespace vidprobe::backbones::wan {

// (mean - latents_mean) / latents_std per channel: what the transformer is trained on.
torch::Tensor normalize_latents(const VaeConfig& config, const torch::Tensor& mean);
// The inverse, as diffusers' WanPipeline does before vae.decode: latents / (1 / latents_std) +
// latents_mean in float32.
torch::Tensor denormalize_latents(const VaeConfig& config, const torch::Tensor& latents);

class VaeEncoder {
 public:
  VaeEncoder(VaeConfig config, torch::Device device, torch::Dtype dtype = torch::kFloat32);

  const VaeConfig& config() const { return config_; }
  Parameters& parameters() { return params_; }
  const Parameters& parameters() const { return params_; }
  // Diffusers (vae/diffusion_pytorch_model.safetensors) or original WanVAE key names, converted to
  // safetensors; decoder tensors are ignored (load_vae loads both halves strictly).
  void load(TensorMap&& checkpoint, const std::string& source);

  // video (B, 3, T, H, W) in [-1, 1] with T = 4k + 1 and H, W multiples of 8. Returns the
  // posterior mean (B, z_dim, 1 + k, H / 8, W / 8), float32, not normalised.
  torch::Tensor encode_mean(const torch::Tensor& video) const;
  torch::Tensor normalize(const torch::Tensor& mean) const {
    return normalize_latents(config_, mean);
  }
  torch::Tensor encode(const torch::Tensor& video) const { return normalize(encode_mean(video)); }

  // On CUDA, let cuDNN time its convolution algorithms for the clip size (on by default: the
  // 480x832 encoder runs ~25% faster; results can then differ run to run at the 1e-6 level).
  void set_cudnn_benchmark(bool enabled) { cudnn_benchmark_ = enabled; }
  // Run the encoder channels-last (NDHWC): cuDNN's float32 3D convolutions are faster in that
  // layout on the GPU, and the RMS norms then reduce over contiguous channels. Every
  // intermediate follows the input's layout; the result is contiguous either way.
  void set_channels_last(bool enabled) { channels_last_ = enabled; }

 private:
  enum class LayerKind { kResidual, kDownsample2d, kDownsample3d };
  struct Layer {
    LayerKind kind;
    std::string prefix;
  };
  torch::Tensor encode_chunk(const torch::Tensor& x, CausalCache& cache) const;

  VaeConfig config_;
  Parameters params_;
  std::vector<Layer> down_layers_;
  bool cudnn_benchmark_ = true;
  bool channels_last_ = false;
};

class VaeDecoder {
 public:
  VaeDecoder(VaeConfig config, torch::Device device, torch::Dtype dtype = torch::kFloat32);

  const VaeConfig& config() const { return config_; }
  Parameters& parameters() { return params_; }
  const Parameters& parameters() const { return params_; }
  // Diffusers key names (decoder.*, post_quant_conv.*); encoder tensors are ignored. The original
  // WanVAE layout's decoder (decoder.upsamples.N) is refused with a message: convert with
  // diffusers (docs/wan.md).
  void load(TensorMap&& checkpoint, const std::string& source);

  // z (B, z_dim, F, h, w) un-normalised latents -> video (B, out_channels, 1 + 4 (F - 1), 8h, 8w)
  // float32, clamped to [-1, 1] as diffusers' decode does.
  torch::Tensor decode(const torch::Tensor& z) const { return decode_unclamped(z).clamp(-1, 1); }
  torch::Tensor decode_unclamped(const torch::Tensor& z) const;
  // Normalised latents (the transformer's space) -> video: denormalize_latents, then decode.
  torch::Tensor decode_normalized(const torch::Tensor& latents) const {
    return decode(denormalize_latents(config_, latents));
  }

  void set_cudnn_benchmark(bool enabled) { cudnn_benchmark_ = enabled; }

 private:
  struct UpBlock {
    std::string prefix;
    int resnets = 0;
    enum class Upsample { kNone, k2d, k3d } upsample = Upsample::kNone;
  };
  torch::Tensor decode_chunk(const torch::Tensor& x, CausalCache& cache) const;
  torch::Tensor upsample(const UpBlock& block, const torch::Tensor& x, CausalCache& cache) const;

  VaeConfig config_;
  Parameters params_;
  std::vector<UpBlock> up_blocks_;
  bool cudnn_benchmark_ = true;
};

// Loads both halves from one VAE checkpoint: every tensor must belong to the encoder or the
// decoder (nothing skipped), and the error names every missing or unexpected key.
void load_vae(TensorMap&& checkpoint, const std::string& source, VaeEncoder& encoder,
              VaeDecoder& decoder);

}  // namespace vidprobe::backbones::wan
