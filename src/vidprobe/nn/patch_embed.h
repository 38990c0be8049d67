#pragma once
// A patch embedding whose stride equals its kernel (ViT patches, video tubelets) as one GEMM:
// the same values as the convolution, up to float summation order, with the tokens coming out
// contiguous in (t, y, x) order. cuDNN runs a 3D convolution over bf16 video through a generic
// non-tensor-core kernel (`implicit_convolveNd_sgemm`: 8.06 ms of V-JEPA ViT-L's 274 ms window at
// 76 frames of 480 x 832 on an H100), where the gather into token order is one 0.39 ms copy and
// the GEMM runs on the tensor cores with the model's others (docs/perf.md, "V-JEPA v1 and Fast3R
// against their official code again").
#include <torch/torch.h>

namespace vidprobe::nn {

// input (B, C, S1, ..., Sk), weight (D, C, K1, ..., Kk) of a convolution with stride K, bias
// (D) or undefined. Returns (B, n1 * ... * nk, D) with ni = Si / Ki (a remainder is dropped, as
// the convolution drops it), the patch grid flattened row-major. Counts the GEMM's FLOPs
// (nn/stage_meter.h).
torch::Tensor embed_patches(const torch::Tensor& input, const torch::Tensor& weight,
                            const torch::Tensor& bias);

}  // namespace vidprobe::nn
