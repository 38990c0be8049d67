#pragma once
// The one fully connected layer: torch::nn::Linear's parameters, names and initialisation, with
// the forward of torch.nn.functional.linear (at::linear). libtorch's C++ Linear computes
// matmul + `+= bias` for inputs of more than two dimensions, an unfused broadcast add that took
// 27 % of DINOv2-L's GPU time on an H200 (docs/perf.md, kernel profile); at::linear flattens a
// contiguous (B, N, C) input and adds the bias in the GEMM's epilogue, as PyTorch models do.
#include <torch/torch.h>

#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::nn {

struct LinearImpl : torch::nn::LinearImpl {
  using torch::nn::LinearImpl::LinearImpl;
  torch::Tensor forward(const torch::Tensor& input) {
    count_linear_flops(input, weight.size(0));
    return torch::linear(input, weight, bias);
  }
};
TORCH_MODULE(Linear);

}  // namespace vidprobe::nn
