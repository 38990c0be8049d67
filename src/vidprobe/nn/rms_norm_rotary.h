#pragma once
// The query and key path of WAN2.1's self-attention, RMSNorm over the full width and then the
// rotary embedding with interleaved pairs, in one pass. libtorch runs the norm, a float32 copy,
// the complex product and the cast back as four passes over a (tokens, width) tensor, each query
// and key of each block: at the paper's clip 32,760 x 5,120 values in bf16 (WAN2.1-14B).
#include <torch/torch.h>

#include <string>

namespace vidprobe::nn {

// x (B, N, H, head_dim) with every pair of channels (2i, 2i + 1) of each head turned as the
// complex number x[2i] + i x[2i + 1] times rotation[token, i] (complex64 (N, 1, head_dim / 2)),
// in float32, returned in x's dtype (the reference rotary embedding of WAN2.1).
torch::Tensor rotate_pairs(const torch::Tensor& x, const torch::Tensor& rotation);

// rotate_pairs(at::rms_norm(x, weight, eps).view(B, N, H, head_dim), rotation) for x (B, N, D):
// the norm over all D channels (WAN's qk-norm spans the heads), its result rounded to x's dtype
// as at::rms_norm rounds it, then turned. Returns (B, N, H, head_dim), H = D / head_dim and
// head_dim = 2 * rotation.size(-1).
torch::Tensor rms_norm_rotate_pairs(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                                    const torch::Tensor& rotation);

// Whether rms_norm_rotate_pairs takes one runtime kernel (nn/runtime_kernel.h): contiguous float32
// or bf16 CUDA x with no gradient recorded (for x or the weight), D a multiple of 4 up to 8,192 and
// of head_dim, head_dim a multiple of 4, a (D) weight and a contiguous complex64 (N, 1,
// head_dim / 2) table on x's device, 16-byte aligned data. The sum of squares is a float32 sum in
// another order than libtorch's, so the values agree to its rounding.
bool rms_norm_rotary_uses_runtime_kernel(const torch::Tensor& x, const torch::Tensor& weight,
                                         const torch::Tensor& rotation);

// The runtime kernel's source (compiled for sm_80 and sm_90 by a CPU test).
const std::string& rms_norm_rotary_kernel_source();

}  // namespace vidprobe::nn
