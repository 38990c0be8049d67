#include "vidprobe/nn/linear.h"

#include <cmath>
#include <ostream>
#include <tuple>
#include <vector>

#include "vidprobe/nn/runtime_kernel.h"

namespace vidprobe::nn {
namespace {
thread_local int undrawn_linear_scopes = 0;
}  // namespace

UndrawnLinears::UndrawnLinears() {
  ++undrawn_linear_scopes;
}

UndrawnLinears::~UndrawnLinears() {
  --undrawn_linear_scopes;
}

bool UndrawnLinears::active() {
  return undrawn_linear_scopes > 0;
}

LinearImpl::LinearImpl(const torch::nn::LinearOptions& options) : options(options) {
  reset();
}

void LinearImpl::reset() {
  weight =
      register_parameter("weight", torch::empty({options.out_features(), options.in_features()}));
  // As torch::nn::Linear: an undefined "bias" is registered (named_parameters leaves it out).
  bias = options.bias() ? register_parameter("bias", torch::empty(options.out_features()))
                        : register_parameter("bias", {}, /*requires_grad=*/false);
  if (!UndrawnLinears::active()) reset_parameters();
}

void LinearImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const auto fan_in = std::get<0>(torch::nn::init::_calculate_fan_in_and_fan_out(weight));
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

void LinearImpl::pretty_print(std::ostream& stream) const {
  stream << "vidprobe::nn::Linear(in_features=" << options.in_features()
         << ", out_features=" << options.out_features() << ", bias=" << options.bias() << ")";
}

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
