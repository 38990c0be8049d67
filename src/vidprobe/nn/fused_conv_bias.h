#pragma once
// A convolution's bias added in the pass that follows it. cuDNN convolves without the bias and
// libtorch then adds it in a pass of its own over the output; the DPT heads' residual units follow
// every convolution with a ReLU or a residual sum, each another full pass over float32 maps of up
// to 40 x 256 x 120 x 208 at the paper's probe size.
#include <torch/torch.h>

namespace vidprobe::nn {

// relu(conv(x)) for a convolution with a bias.
torch::Tensor conv2d_bias_relu(torch::nn::Conv2dImpl& conv, const torch::Tensor& x);

// residual + conv(x) for a convolution with a bias.
torch::Tensor conv2d_bias_residual(torch::nn::Conv2dImpl& conv, const torch::Tensor& x,
                                   const torch::Tensor& residual);

// Whether those take the runtime kernels (nn/runtime_kernel.h) for a convolution's bias-free
// output `y`: float32 channels-last CUDA maps, with `residual` (if defined) of y's shape and
// layout, and a float32 bias beside them. Then the bias is added with the ReLU or the residual in
// one pass, each sum rounded as libtorch's separate kernels round it (the same values), and the
// bias gradient is the same sum libtorch's convolution backward forms. Otherwise libtorch's
// convolution with its bias, then the ReLU or the sum.
bool conv_bias_uses_runtime_kernels(const torch::Tensor& y, const torch::Tensor& bias,
                                    const torch::Tensor& residual);

// The runtime kernels' source (compiled for sm_80 and sm_90 by a CPU test).
const std::string& conv_bias_kernel_source();

}  // namespace vidprobe::nn
