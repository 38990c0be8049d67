#include "vidprobe/nn/fused_conv_bias.h"

#include <ATen/autocast_mode.h>
#include <c10/core/DeviceGuard.h>

#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "vidprobe/nn/runtime_kernel.h"

namespace vidprobe::nn {
namespace {

// Channels-last float32: element e belongs to channel e % channels. A thread owns VEC consecutive
// elements (4 when the channels and every address allow one 16-byte access). The ReLU keeps NaN
// and maps everything not above 0 to 0, as libtorch's clamp_min does.
const std::string kSource = runtime_kernel_prelude() + R"CUDA(
template <int VEC, bool RELU>
__device__ void bias_epilogue(const float* __restrict__ y, const float* __restrict__ bias,
                              const float* __restrict__ residual, float* __restrict__ out,
                              long long vectors, int channels) {
  const long long vector = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (vector >= vectors) return;
  const long long e = vector * VEC;
  const Pack<float, VEC> a = load<float, VEC>(y + e), b = load<float, VEC>(bias + e % channels);
  Pack<float, VEC> r;
  if constexpr (RELU) {
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      const float v = __fadd_rn(a.v[i], b.v[i]);
      r.v[i] = (v > 0.0f || v != v) ? v : 0.0f;
    }
  } else {
    const Pack<float, VEC> s = load<float, VEC>(residual + e);
#pragma unroll
    for (int i = 0; i < VEC; ++i) r.v[i] = __fadd_rn(s.v[i], __fadd_rn(a.v[i], b.v[i]));
  }
  store<float, VEC>(out + e, r);
}

#define VIDPROBE_CONV_BIAS_KERNELS(VEC)                                                           \
  extern "C" __global__ void bias_relu_##VEC(const float* y, const float* bias, float* out,      \
                                             long long vectors, int channels) {                  \
    bias_epilogue<VEC, true>(y, bias, nullptr, out, vectors, channels);                          \
  }                                                                                               \
  extern "C" __global__ void bias_residual_##VEC(const float* y, const float* bias,              \
                                                 const float* residual, float* out,              \
                                                 long long vectors, int channels) {              \
    bias_epilogue<VEC, false>(y, bias, residual, out, vectors, channels);                        \
  }
VIDPROBE_CONV_BIAS_KERNELS(1)
VIDPROBE_CONV_BIAS_KERNELS(4)
)CUDA";

constexpr unsigned kThreads = 256;

// relu(y + bias) (residual undefined) or residual + (y + bias), into a new channels-last tensor.
torch::Tensor launch_epilogue(const torch::Tensor& y, const torch::Tensor& bias,
                              const torch::Tensor& residual) {
  const c10::DeviceGuard guard(y.device());
  auto out = torch::empty_like(y, torch::MemoryFormat::ChannelsLast);
  const bool relu = !residual.defined();
  const bool wide = y.size(1) % 4 == 0 && packs_aligned(y.data_ptr()) &&
                    packs_aligned(bias.data_ptr()) && packs_aligned(out.data_ptr()) &&
                    (relu || packs_aligned(residual.data_ptr()));
  static const RuntimeKernel kernels[2][2] = {
      {{"conv_bias", &kSource, "bias_relu_1"}, {"conv_bias", &kSource, "bias_relu_4"}},
      {{"conv_bias", &kSource, "bias_residual_1"}, {"conv_bias", &kSource, "bias_residual_4"}}};
  const auto& kernel = kernels[relu ? 0 : 1][wide ? 1 : 0];
  long long vectors = y.numel() / (wide ? 4 : 1);
  auto channels = static_cast<int>(y.size(1));
  const auto* input = y.data_ptr<float>();
  const auto* bias_values = bias.data_ptr<float>();
  const float* residual_values = relu ? nullptr : residual.data_ptr<float>();
  auto* output = out.data_ptr<float>();
  std::vector<void*> arguments{&input, &bias_values};
  if (!relu) arguments.push_back(&residual_values);
  arguments.insert(arguments.end(), {&output, &vectors, &channels});
  const auto blocks = static_cast<unsigned>((vectors + kThreads - 1) / kThreads);
  kernel.launch({.grid = {blocks, 1, 1}, .block = {kThreads, 1, 1}}, std::move(arguments));
  return out;
}

// The bias's gradient as libtorch's convolution backward forms it.
torch::Tensor bias_gradient(const torch::Tensor& grad) {
  return grad.sum({0, 2, 3});
}

class BiasRelu : public torch::autograd::Function<BiasRelu> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& y,
                               const torch::Tensor& bias) {
    auto out = launch_epilogue(y, bias, {});
    ctx->save_for_backward({out});
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    refuse_second_derivative("conv2d bias epilogue");
    const auto grad = at::threshold_backward(grads[0], ctx->get_saved_variables()[0], 0);
    return {grad, bias_gradient(grad)};
  }
};

class BiasResidual : public torch::autograd::Function<BiasResidual> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& y,
                               const torch::Tensor& bias, const torch::Tensor& residual) {
    return launch_epilogue(y, bias, residual);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list grads) {
    refuse_second_derivative("conv2d bias epilogue");
    return {grads[0], bias_gradient(grads[0]), grads[0]};
  }
};

// The convolution without its bias, with the module's other options; undefined where the module's
// options are not plain numbers (a padding mode or a padding by name).
torch::Tensor convolve_without_bias(torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  const auto& options = conv.options;
  const auto* padding = std::get_if<torch::ExpandingArray<2>>(&options.padding());
  if (padding == nullptr ||
      !std::holds_alternative<torch::enumtype::kZeros>(options.padding_mode()))
    return {};
  return torch::conv2d(x, conv.weight, {}, *options.stride(), **padding, *options.dilation(),
                       options.groups());
}

// conv(x) with its bias: the bias through `epilogue` (the runtime kernels) when they take the
// bias-free output, else added as libtorch's CUDA convolution adds it, then `plain` applied.
template <typename Epilogue, typename Plain>
torch::Tensor convolve_then(torch::nn::Conv2dImpl& conv, const torch::Tensor& x,
                            const torch::Tensor& residual, Epilogue epilogue, Plain plain) {
  // libtorch adds a bias after the convolution itself only on cuDNN's float32 path without
  // autocast; elsewhere it may round it inside the kernel or in another dtype.
  const auto& bias = conv.bias;
  if (!bias.defined() || !x.is_cuda() || x.scalar_type() != torch::kFloat32 ||
      at::autocast::is_autocast_enabled(at::kCUDA) || !runtime_kernels_built())
    return plain(conv.forward(x));
  auto y = convolve_without_bias(conv, x);
  if (!y.defined()) return plain(conv.forward(x));
  if (conv_bias_uses_runtime_kernels(y, bias, residual)) return epilogue(y);
  return plain(y.add_(bias.view({1, -1, 1, 1})));
}

}  // namespace

const std::string& conv_bias_kernel_source() {
  return kSource;
}

bool conv_bias_uses_runtime_kernels(const torch::Tensor& y, const torch::Tensor& bias,
                                    const torch::Tensor& residual) {
  const auto float32_cuda = [&y](const torch::Tensor& t) {
    return t.is_cuda() && t.device() == y.device() && t.scalar_type() == torch::kFloat32;
  };
  if (!runtime_kernels_built() || !float32_cuda(y) || y.dim() != 4 || y.numel() == 0 ||
      !y.is_contiguous(torch::MemoryFormat::ChannelsLast))
    return false;
  if (!bias.defined() || !float32_cuda(bias) || !bias.is_contiguous() || bias.dim() != 1 ||
      bias.size(0) != y.size(1))
    return false;
  if (residual.defined() && (!float32_cuda(residual) || residual.sizes() != y.sizes() ||
                             !residual.is_contiguous(torch::MemoryFormat::ChannelsLast)))
    return false;
  return y.size(1) <= std::numeric_limits<int>::max() &&
         y.numel() / kThreads < std::numeric_limits<int>::max() &&
         runtime_kernels_support(y.device().index());
}

torch::Tensor conv2d_bias_relu(torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  return convolve_then(
      conv, x, {}, [&conv](const torch::Tensor& y) { return BiasRelu::apply(y, conv.bias); },
      [](torch::Tensor y) { return y.relu_(); });
}

torch::Tensor conv2d_bias_residual(torch::nn::Conv2dImpl& conv, const torch::Tensor& x,
                                   const torch::Tensor& residual) {
  return convolve_then(
      conv, x, residual,
      [&](const torch::Tensor& y) { return BiasResidual::apply(y, conv.bias, residual); },
      [&residual](const torch::Tensor& y) { return residual + y; });
}

}  // namespace vidprobe::nn
