#pragma once
// A transformer block's residual update and the LayerNorm that reads the updated stream, in one
// pass. Each block adds a branch to its residual stream and the next norm reads the sum straight
// back: libtorch runs the add (or a gated product and sum), the norm, a modulation or affine step
// and a cast to the branch dtype as up to four passes over the stream. In WAN2.1's DiT at the
// paper's clip (32,760 tokens x 5,120 channels, a float32 stream) those passes are three quarters
// of the element-wise traffic of a block. Frozen backbones only: the runtime kernels have no
// backward.
#include <torch/torch.h>

#include <optional>
#include <string>
#include <string_view>

namespace vidprobe::nn {

// stream + update * gate, or stream + update where gate is undefined, or the stream alone where
// update is undefined. stream and update (B, N, D); gate (D), (1, D), (1, 1, D) or (B, 1, D). The
// product and the sum are each rounded in float32 (float64 for a float64 stream), then the sum to
// the stream's dtype: the reference DiTs' `x.float() + branch.float() * gate`, two roundings where
// libtorch's addcmul may fuse them into one.
struct ResidualUpdate {
  torch::Tensor stream;
  torch::Tensor update{};
  torch::Tensor gate{};
};

struct NormedStream {
  torch::Tensor stream;  // the updated stream (the input stream itself when there is no update)
  torch::Tensor normed;  // its LayerNorm, scaled and shifted, in the dtype asked for
};

// The updated stream alone, as every function below forms it, the runtime kernel bit for bit: for
// a stream that is wanted before the next norm would add its update (a kept layer's output).
torch::Tensor updated_stream(const ResidualUpdate& update);

// Replaces `update` by its updated stream with no update left (so the next norm adds nothing
// twice) and returns that stream: for a block output that is kept or read before the next norm.
const torch::Tensor& settle(ResidualUpdate& update);

// adaLN's modulation (WAN2.1, Open-Sora): LayerNorm without affine parameters in float32, times
// `multiplier` (1 + scale) plus `shift`, each (D), (1, D), (1, 1, D) or (B, 1, D), cast to `dtype`;
// libtorch's form is (layer_norm(s.float()) * multiplier + shift).to(dtype), as the reference
// writes it (the product rounded, then the sum).
NormedStream modulated_layer_norm(const ResidualUpdate& update, const torch::Tensor& multiplier,
                                  const torch::Tensor& shift, double eps, torch::ScalarType dtype);

// LayerNorm with its weight and bias (D), cast to `dtype`; libtorch's form is
// layer_norm(s, weight, bias).to(dtype) (float32 statistics inside, as the kernel's).
NormedStream affine_layer_norm(const ResidualUpdate& update, const torch::Tensor& weight,
                               const torch::Tensor& bias, double eps, torch::ScalarType dtype);

// Which of the two a call is: the modulation's scale and shift, or a LayerNorm's weight and bias.
enum class NormScale { kModulation, kWeightAndBias };

// Whether those take the runtime kernel (nn/runtime_kernel.h) for these inputs: CUDA tensors on
// one device with no gradient recorded (autograd off, or no input, scale or shift needing one);
// contiguous stream and update; width a multiple of 4 up to 8,192; 16-byte aligned data; stream,
// update and output dtypes float32, float32, float32 or float32, bf16, bf16 or bf16, bf16, bf16;
// a gate, scale and shift of the forms above in a dtype no wider than float32, a weight and bias
// (D) in the stream's dtype (libtorch's layer_norm takes no other). Then the update is added as
// updated_stream adds it (the same stream, bit for bit), the mean and variance are two float32 sums
// over the row in registers (libtorch's kernel uses Welford's update: the normed values agree to
// float32 rounding, then the cast), and everything is read once and written once. Otherwise
// libtorch's form.
bool residual_norm_uses_runtime_kernel(const ResidualUpdate& update, NormScale form,
                                       const torch::Tensor& scale, const torch::Tensor& shift,
                                       torch::ScalarType dtype);

// The function the form names, on the runtime kernel where residual_norm_uses_runtime_kernel says
// it applies (one plan, not two); std::nullopt otherwise, for callers whose libtorch form is
// their reference's own (diffusers' bf16 sums) rather than the ones above. `into`, where defined,
// receives the normed values and is returned as `normed`: a tensor of the stream's sizes in
// `dtype` on its device, e.g. one stream's rows of a joint sequence that attention reads next (no
// concatenation after). The kernel writes it directly where it is contiguous and 16-byte aligned
// (a slice along the tokens of a batch of one), otherwise its values are copied in.
std::optional<NormedStream> residual_norm_on_runtime_kernel(const ResidualUpdate& update,
                                                            NormScale form,
                                                            const torch::Tensor& scale,
                                                            const torch::Tensor& shift, double eps,
                                                            torch::ScalarType dtype,
                                                            const torch::Tensor& into = {});

// The runtime kernel's source (compiled for sm_80 and sm_90 by a CPU test).
const std::string& residual_norm_kernel_source();

// Whether a kernel name, as the CUDA profiler reports it, is one of this runtime kernel's entry
// points: what the tests and the bench count as the fused side of a profile.
bool is_residual_norm_kernel(std::string_view kernel_name);

}  // namespace vidprobe::nn
