#pragma once
// qk-norm: a LayerNorm over each head's channels of the queries and keys (VGGT's aggregator,
// CogVideoX, Aether, the probe's trunk), or an RMSNorm (Open-Sora 2.0's MMDiT). In nn::Attention q
// and k are permuted views of the packed projection, and libtorch's LayerNorm first copies such a
// view into a contiguous tensor and then gives each row of head_dim values (64 there) a thread
// block of its own: at VGGT-1B's 16 frames about 40 ms of its 266 ms a clip, for a pass that moves
// 90 MB a call. The runtime kernel here reads the view in place, rows in memory order, a row to a
// few lanes of a warp, and writes the result as one stream that keeps x's dimension order
// (nn/strided_rows.h, in_memory_order). Frozen backbones only: it has no backward.
#include <torch/torch.h>

#include <string>

namespace vidprobe::nn {

// norm(x) for x (..., head_dim) with the LayerNorm's weight and bias over the last dimension,
// on the runtime kernel's path in x's dimension order (norm(x) returns it contiguous otherwise).
torch::Tensor head_layer_norm(const torch::Tensor& x, torch::nn::LayerNorm& norm);

// Whether the runtime kernel can take x with this weight and bias, wherever x lies: float32 or
// bf16 x whose rows rows_readable_in_place (nn/strided_rows.h) reads, head_dim a power-of-two
// number of 16-byte packs up to 32 (4 to 128 float32 channels, 8 to 256 bf16), data and strides
// on 16-byte packs, weight and bias (head_dim) in x's dtype on x's device,
// no gradient recorded. The mean and the variance are float32 sums over the row in another order
// than libtorch's Welford update: the values agree to float32 rounding, then the cast to x's dtype.
bool head_layer_norm_kernel_accepts(const torch::Tensor& x, const torch::Tensor& weight,
                                    const torch::Tensor& bias);

// head_layer_norm_kernel_accepts on a CUDA device the kernels compile for.
bool head_layer_norm_uses_runtime_kernel(const torch::Tensor& x, const torch::Tensor& weight,
                                         const torch::Tensor& bias);

// RMSNorm over each head's channels (Open-Sora 2.0's qk-norm), as nn::RmsNorm forms it: squares
// and their mean in float32, x * rsqrt(mean + eps) rounded to x's dtype, times the (head_dim)
// scale, rounded. The runtime kernel only, its result in x's dimension order; nn::RmsNorm's forward
// takes it where head_rms_norm_uses_runtime_kernel says so. The sum of squares runs in another
// order than libtorch's mean: the values agree to float32 rounding, then the cast.
torch::Tensor head_rms_norm(const torch::Tensor& x, const torch::Tensor& scale, double eps);

// As head_layer_norm_kernel_accepts, with the scale in place of the weight and bias.
bool head_rms_norm_kernel_accepts(const torch::Tensor& x, const torch::Tensor& scale);
bool head_rms_norm_uses_runtime_kernel(const torch::Tensor& x, const torch::Tensor& scale);

// The runtime kernels' source, both forms (compiled for sm_80 and sm_90 by a CPU test).
const std::string& head_norm_kernel_source();

}  // namespace vidprobe::nn
