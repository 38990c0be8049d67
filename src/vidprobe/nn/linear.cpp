#include "vidprobe/nn/linear.h"

#include <vector>

#include "vidprobe/nn/runtime_kernel.h"

namespace vidprobe::nn {

bool gelu_epilogue_applies(const torch::Tensor& x, const torch::Tensor& weight,
                           const torch::Tensor& bias) {
  const auto bf16 = [](const torch::Tensor& t) {
    return t.defined() && t.scalar_type() == torch::kBFloat16;
  };
  return x.is_cuda() && bf16(x) && bf16(weight) && bf16(bias) && bias.dim() == 1 && x.dim() >= 2 &&
         x.is_contiguous() && !records_gradient({&x, &weight, &bias});
}

torch::Tensor linear_gelu_tanh(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
  count_linear_flops(x, weight.size(0));
  if (!gelu_epilogue_applies(x, weight, bias))
    return torch::gelu(torch::linear(x, weight, bias), "tanh");
  auto sizes = x.sizes().vec();
  sizes.back() = weight.size(0);
  return at::_addmm_activation(bias, x.view({-1, x.size(-1)}), weight.t(), 1, 1, /*use_gelu=*/true)
      .view(sizes);
}

}  // namespace vidprobe::nn
