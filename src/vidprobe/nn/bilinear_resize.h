#pragma once
// Bilinear resizing with align_corners=True, the DPT heads' up-sampling (the fusion blocks' x2 and
// the head's resize to the output size).
#include <torch/torch.h>

namespace vidprobe::nn {

// `x` (N, C, H, W) resized to (height, width) as F::interpolate(bilinear, align_corners=true)
// resizes it, differentiably. A float32 channels-last CUDA tensor resized to a larger size (no
// axis shrunk, neither enlarged more than 4x) goes through runtime-compiled kernels
// (nn/runtime_kernel.h): libtorch's channels-last kernels run far below the memory bandwidth, and
// its backward scatters with atomics into a zeroed gradient, where these gather each input pixel's
// gradient in one pass. Everything else, and a build without NVRTC, takes F::interpolate.
torch::Tensor resize_bilinear_aligned(const torch::Tensor& x, int64_t height, int64_t width);

// Whether resize_bilinear_aligned takes the runtime kernels for `x` resized to (height, width).
bool bilinear_resize_uses_runtime_kernels(const torch::Tensor& x, int64_t height, int64_t width);

// The runtime kernels' source (compiled for sm_80 and sm_90 by a CPU test).
const std::string& bilinear_resize_kernel_source();

}  // namespace vidprobe::nn
