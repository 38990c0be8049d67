#pragma once
// Small building blocks shared by the WAN modules. Each reads its weights from a Parameters store
// by name prefix, so the module code reads like the reference's module tree.
//
// Why WAN does not build from nn/ like the other families: its DiT, VAE and umT5 keep each
// parameter in the dtype diffusers keeps it in (matmul weights in the compute dtype, norms,
// modulation and time embedding in float32: ParamKind), loaded tensor by tensor from sharded
// checkpoints into one flat store; torch::nn modules cast a whole module to one dtype. The maths
// (LayerNorm / RMSNorm in float32, linear in the weight's dtype) is what the parity fixtures and
// the H200 runs (docs/wan.md) were measured with.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "vidprobe/backbones/wan/checkpoint.h"

namespace vidprobe::backbones::wan {

// Declares "<prefix>.weight" (out, in) and optionally "<prefix>.bias" (out).
void add_linear(Parameters& params, const std::string& prefix, int64_t in, int64_t out,
                bool bias = true, bool float32 = false);
// x @ weight^T + bias, computed in the weight's dtype (x is cast to it).
torch::Tensor linear(const Parameters& params, const std::string& prefix, const torch::Tensor& x,
                     bool bias = true);

// gelu_tanh(linear(x)): nn::linear_gelu_tanh (the GEMM's GELU epilogue in bf16 on CUDA) where x
// has the weight's dtype; linear() with its cast, then gelu, otherwise.
torch::Tensor linear_gelu_tanh(const Parameters& params, const std::string& prefix,
                               const torch::Tensor& x);

// LayerNorm over the last dimension computed in float32 (returns float32).
torch::Tensor layer_norm_f32(const torch::Tensor& x, double eps);

// RMSNorm over the last dimension with gain "<prefix>.weight": the statistics in float32, the
// result in x's dtype.
torch::Tensor rms_norm(const Parameters& params, const std::string& prefix, const torch::Tensor& x,
                       double eps);

// ---- the WAN VAE's blocks, shared by its encoder and decoder ----------------------------------
// Both stream a clip in chunks (the encoder: frame 0, then 4 frames; the decoder: one latent frame
// at a time) and every causal temporal convolution carries the last input frames of the previous
// chunk in a cache slot. Slots are handed out in call order, which is the same for every chunk.
struct CausalCache {
  std::vector<torch::Tensor> slots;
  std::size_t next = 0;
  void rewind() { next = 0; }  // at the start of each chunk
  torch::Tensor& slot();
};

// "<prefix>.weight" (out, in, kt, kh, kw) and "<prefix>.bias".
void add_conv3d(Parameters& params, const std::string& prefix, int64_t in, int64_t out,
                std::vector<int64_t> kernel);
// norm1, conv1, norm2, conv2 and, when in != out, a 1x1x1 conv_shortcut.
void add_vae_residual(Parameters& params, const std::string& prefix, int64_t in, int64_t out);
// The single-head attention of the mid blocks: norm, to_qkv, proj.
void add_vae_attention(Parameters& params, const std::string& prefix, int64_t dim);

// (B, C, T, H, W) <-> (B * T, C, H, W) for the per-frame 2D operations.
torch::Tensor frames_to_batch(const torch::Tensor& x);
torch::Tensor batch_to_frames(const torch::Tensor& x, int64_t batch);

// F.normalize over channels times sqrt(C) and the gain "<prefix>.gamma" (an RMSNorm without
// epsilon inside).
torch::Tensor vae_rms_norm(const Parameters& params, const std::string& prefix,
                           const torch::Tensor& x);
// A causal 3D convolution: zero padding in front in time (none behind), "same" in space. With a
// cache, temporal kernels take its next slot: the slot's frames (the previous chunk's last ones)
// replace the leading zeros and the slot keeps this chunk's last frames. cache == nullptr pads with
// zeros.
torch::Tensor causal_conv3d(const Parameters& params, const std::string& prefix,
                            const torch::Tensor& x, CausalCache* cache);
// The same with a given slot (a layer that manages its own slot, such as a time upsampler).
torch::Tensor causal_conv3d_with_slot(const Parameters& params, const std::string& prefix,
                                      const torch::Tensor& x, torch::Tensor& slot);
// causal_conv3d(silu(vae_rms_norm(x))), the normalised activations written straight into the
// convolution's time-padded input (no concatenation or padding copy).
torch::Tensor rms_norm_silu_causal_conv3d(const Parameters& params, const std::string& norm_prefix,
                                          const std::string& conv_prefix, const torch::Tensor& x,
                                          CausalCache* cache);
// x -> conv2(silu(norm2(conv1(silu(norm1(x)))))) + shortcut(x).
torch::Tensor vae_residual(const Parameters& params, const std::string& prefix,
                           const torch::Tensor& x, CausalCache& cache);
// The encoder's downsampler: zero padding on the right and bottom, then a stride-2 3x3
// convolution per frame ("<prefix>.resample.1"); a temporal one then halves the frames with a
// stride-2 time convolution ("<prefix>.time_conv") over the last frame of the previous chunk and
// this chunk's, the first chunk passing through. The output follows x's memory layout.
torch::Tensor vae_downsample(const Parameters& params, const std::string& prefix,
                             const torch::Tensor& x, bool temporal, CausalCache& cache);
// Single-head self-attention over the pixels of each frame (no temporal mixing), residual.
torch::Tensor vae_attention(const Parameters& params, const std::string& prefix,
                            const torch::Tensor& x);

}  // namespace vidprobe::backbones::wan
