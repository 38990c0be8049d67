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

// gelu_tanh(linear(x, weight, bias)), the FLOPs counted. Where gelu_epilogue_applies, cuBLASLt adds
// the bias and applies the tanh GELU in the GEMM's epilogue on the float32 accumulator
// (at::_addmm_activation, `nvjet_..._gelubias` in a profile): one bf16 rounding and no pass over
// the hidden activations, where linear then gelu round the product to bf16, read it back and round
// again (the diffusion transformers' feed-forwards: WAN2.1, CogVideoX, Aether, Open-Sora 2.0).
torch::Tensor linear_gelu_tanh(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias);

// Whether linear_gelu_tanh takes the epilogue: CUDA, bf16 input, weight and (out) bias, x with
// contiguous rows, no gradient recorded (the epilogue form has no backward of its own here).
bool gelu_epilogue_applies(const torch::Tensor& x, const torch::Tensor& weight,
                           const torch::Tensor& bias);

}  // namespace vidprobe::nn
