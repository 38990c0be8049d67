#pragma once
// The encoder of the WAN2.1 VAE (Wan-Video/Wan2.1 wan/modules/vae.py; diffusers AutoencoderKLWan),
// which turns a video in [-1, 1] into latents compressed 4x in time and 8x in space.
//
// All its temporal convolutions are causal. Like the reference, the encoder streams the clip in
// chunks — the first frame alone, then 4 frames at a time — and carries a per-convolution cache of
// the last input frames from chunk to chunk, so memory stays bounded by a chunk whatever the clip
// length. The temporal downsamplers pass the first chunk through untouched and then convolve with
// stride 2 over the previous chunk's last frame and the new frames; this is why a clip of 4k + 1
// frames gives 1 + k latent frames, latent 0 seeing only video frame 0 and latent k (k >= 1)
// seeing frames up to 4k.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "vidprobe/backbones/wan/checkpoint.h"
#include "vidprobe/backbones/wan/config.h"

namespace vidprobe::backbones::wan {

class VaeEncoder {
 public:
  VaeEncoder(VaeConfig config, torch::Device device, torch::Dtype dtype = torch::kFloat32);

  const VaeConfig& config() const { return config_; }
  Parameters& parameters() { return params_; }
  const Parameters& parameters() const { return params_; }
  // Diffusers (vae/diffusion_pytorch_model.safetensors) or original WanVAE key names, converted to
  // safetensors; decoder tensors are ignored.
  void load(TensorMap&& checkpoint, const std::string& source);

  // video (B, 3, T, H, W) in [-1, 1] with T = 4k + 1 and H, W multiples of 8. Returns the
  // posterior mean (B, z_dim, 1 + k, H / 8, W / 8), float32, not normalised.
  torch::Tensor encode_mean(const torch::Tensor& video) const;
  // (mean - latents_mean) / latents_std per channel: what the transformer is trained on.
  torch::Tensor normalize(const torch::Tensor& mean) const;
  torch::Tensor encode(const torch::Tensor& video) const { return normalize(encode_mean(video)); }

  // On CUDA, let cuDNN time its convolution algorithms for the clip size (on by default: the
  // 480x832 encoder runs ~25% faster; results can then differ run to run at the 1e-6 level).
  void set_cudnn_benchmark(bool enabled) { cudnn_benchmark_ = enabled; }

 private:
  struct Cache;
  enum class LayerKind { kResidual, kDownsample2d, kDownsample3d };
  struct Layer {
    LayerKind kind;
    std::string prefix;
    int in, out;
  };
  torch::Tensor encode_chunk(const torch::Tensor& x, Cache& cache) const;
  torch::Tensor causal_conv(const std::string& prefix, const torch::Tensor& x, Cache* cache) const;
  torch::Tensor residual(const std::string& prefix, const torch::Tensor& x, bool has_shortcut,
                         Cache& cache) const;
  torch::Tensor downsample(const Layer& layer, const torch::Tensor& x, Cache& cache) const;
  torch::Tensor attention(const std::string& prefix, const torch::Tensor& x) const;
  torch::Tensor rms_norm(const std::string& prefix, const torch::Tensor& x) const;

  VaeConfig config_;
  Parameters params_;
  std::vector<Layer> down_layers_;
  int top_dim_ = 0;
  bool cudnn_benchmark_ = true;
};

}  // namespace vidprobe::backbones::wan
