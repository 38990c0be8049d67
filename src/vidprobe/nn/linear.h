#pragma once
// The one fully connected layer: torch::nn::Linear's parameters, names and initialisation (the
// same draws in the same order, so a seed gives the same weights), with the forward of
// torch.nn.functional.linear (at::linear). libtorch's C++ Linear computes matmul + `+= bias` for
// inputs of more than two dimensions, an unfused broadcast add that took 27 % of DINOv2-L's GPU
// time on an H200 (docs/perf.md, kernel profile); at::linear flattens a contiguous (B, N, C)
// input and adds the bias in the GEMM's epilogue, as PyTorch models do.
#include <torch/torch.h>

#include <cstdint>

#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::nn {

struct LinearImpl : torch::nn::Cloneable<LinearImpl> {
  LinearImpl(int64_t in_features, int64_t out_features)
      : LinearImpl(torch::nn::LinearOptions(in_features, out_features)) {}
  explicit LinearImpl(const torch::nn::LinearOptions& options);
  void reset() override;
  // torch::nn::Linear's: Kaiming-uniform weight (a = sqrt(5)), bias uniform in +-1/sqrt(fan_in).
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input) {
    count_linear_flops(input, weight.size(0));
    return torch::linear(input, weight, bias);
  }

  torch::nn::LinearOptions options;
  torch::Tensor weight, bias;
};
TORCH_MODULE(Linear);

// While one is alive on this thread, nn::Linear leaves its parameters as allocated, undrawn: for
// a model that a strict load (backbones/checkpoint_mapping.h's load_module_strict) fills next.
// Drawing them is serial on the CPU (about 300 M values a second on the development machine:
// some 37 s for Open-Sora 2.0's 11 B parameters) and every value would be overwritten.
class UndrawnLinears {
 public:
  UndrawnLinears();
  ~UndrawnLinears();
  UndrawnLinears(const UndrawnLinears&) = delete;
  UndrawnLinears& operator=(const UndrawnLinears&) = delete;
  static bool active();
};

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
