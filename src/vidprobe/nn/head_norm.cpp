#include "vidprobe/nn/head_norm.h"

#include <c10/core/DeviceGuard.h>

#include <initializer_list>
#include <limits>
#include <string>

#include "vidprobe/core/error.h"
#include "vidprobe/nn/runtime_kernel.h"
#include "vidprobe/nn/strided_rows.h"

namespace vidprobe::nn {
namespace {

// `lanes` consecutive threads of a warp hold one row, VEC channels each (width = lanes * VEC);
// their sums meet by butterfly shuffles inside the lane group, so one row never spans two warps.
// LayerNorm: the variance is the mean of squared deviations from the mean, both passes over
// registers. RMSNorm: nn::RmsNorm's steps, each square rounded to float32 before the sum, the
// normalised value rounded to T before the scale multiplies it.
const std::string kSource = runtime_kernel_prelude() + strided_rows_source() + R"CUDA(
struct HeadNormLayout {
  long long rows;
  int width, lanes;
  float eps;
  StridedRows strides;  // x's, in memory order (nn/strided_rows.h, in_memory_order)
};

__device__ __forceinline__ float lane_group_sum(float v, int lanes) {
  for (int offset = lanes / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

template <typename T, int VEC, bool RMS>
__device__ void head_norm(const T* __restrict__ in, const T* __restrict__ weight,
                          const T* __restrict__ bias, T* __restrict__ out, HeadNormLayout layout) {
  const long long thread = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const long long row = thread / layout.lanes;
  const int channel = static_cast<int>(thread % layout.lanes) * VEC;
  const bool active = row < layout.rows;  // a lane group is active or idle as a whole
  float v[VEC];
  float sum = 0.0f;
  if (active) {
    const Pack<T, VEC> x =
        load_readonly<T, VEC>(in + row_offset(row_index(row, layout.strides), layout.strides) +
                              channel);
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      v[i] = widen(x.v[i]);
      sum = __fadd_rn(sum, v[i]);
    }
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) v[i] = 0.0f;
  }
  const float mean = RMS ? 0.0f : lane_group_sum(sum, layout.lanes) / layout.width;
  float squares = 0.0f;
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    if constexpr (RMS) {
      squares = __fadd_rn(squares, __fmul_rn(v[i], v[i]));
    } else {
      const float d = __fsub_rn(v[i], mean);
      squares = __fmaf_rn(d, d, squares);
    }
  }
  const float rstd = rsqrtf(lane_group_sum(squares, layout.lanes) / layout.width + layout.eps);
  if (!active) return;
  const Pack<T, VEC> w = load_readonly<T, VEC>(weight + channel);
  Pack<T, VEC> y;
  if constexpr (RMS) {
#pragma unroll
    for (int i = 0; i < VEC; ++i)
      narrow(__fmul_rn(rounded<T>(__fmul_rn(v[i], rstd)), widen(w.v[i])), &y.v[i]);
  } else {
    const Pack<T, VEC> b = load_readonly<T, VEC>(bias + channel);
#pragma unroll
    for (int i = 0; i < VEC; ++i)
      narrow(__fadd_rn(__fmul_rn(__fmul_rn(__fsub_rn(v[i], mean), rstd), widen(w.v[i])),
                       widen(b.v[i])),
             &y.v[i]);
  }
  store<T, VEC>(out + row * layout.width + channel, y);
}

#define VIDPROBE_HEAD_NORM_KERNELS(NAME, T, VEC)                                                  \
  extern "C" __global__ void head_layer_norm_##NAME(const T* in, const T* weight, const T* bias, \
                                                    T* out, HeadNormLayout layout) {             \
    head_norm<T, VEC, false>(in, weight, bias, out, layout);                                     \
  }                                                                                              \
  extern "C" __global__ void head_rms_norm_##NAME(const T* in, const T* weight, const T* bias,   \
                                                  T* out, HeadNormLayout layout) {               \
    head_norm<T, VEC, true>(in, weight, bias, out, layout);                                      \
  }
VIDPROBE_HEAD_NORM_KERNELS(f32, float, 4)
VIDPROBE_HEAD_NORM_KERNELS(bf16, bf16_bits, 8)
)CUDA";

struct HeadNormLayout {  // the kernels' HeadNormLayout, field for field
  long long rows;
  int width, lanes;
  float eps;
  StridedRows strides;
};

constexpr unsigned kThreads = 256;

int pack_values(const torch::Tensor& x) {
  return 16 / static_cast<int>(x.element_size());
}

enum class Form { kLayerNorm, kRms };

// bias: the LayerNorm's; unused by the RMS form.
torch::Tensor launch(Form form, const torch::Tensor& x, const torch::Tensor& weight,
                     const torch::Tensor& bias, double eps) {
  const c10::DeviceGuard guard(x.device());
  static const RuntimeKernel kernels[2][2] = {{{"head_norm", &kSource, "head_layer_norm_f32"},
                                               {"head_norm", &kSource, "head_layer_norm_bf16"}},
                                              {{"head_norm", &kSource, "head_rms_norm_f32"},
                                               {"head_norm", &kSource, "head_rms_norm_bf16"}}};
  // Rows in memory order, the result written as one stream and handed back in x's dimension
  // order; x's own order where the reordered rows would not start on whole packs.
  auto order = in_memory_order(x);
  if (!strided_rows(order.view).strides_multiple_of(pack_values(x))) order = as_is(x);
  const auto& rows = order.view;
  auto out =
      torch::empty(rows.sizes(), rows.options().memory_format(torch::MemoryFormat::Contiguous));
  const int64_t width = x.size(-1);
  const int lanes = static_cast<int>(width / pack_values(x));
  HeadNormLayout layout{x.numel() / width, static_cast<int>(width), lanes, static_cast<float>(eps),
                        strided_rows(rows)};
  const void* input = x.data_ptr();
  const void* gains = weight.data_ptr();
  const void* shifts = form == Form::kRms ? weight.data_ptr() : bias.data_ptr();
  void* output = out.data_ptr();
  const auto threads = layout.rows * lanes;
  kernels[form == Form::kRms ? 1 : 0][x.scalar_type() == torch::kBFloat16 ? 1 : 0].launch(
      {.grid = {static_cast<unsigned>((threads + kThreads - 1) / kThreads), 1, 1},
       .block = {kThreads, 1, 1}},
      {&input, &gains, &shifts, &output, &layout});
  return order.restore(out);
}

bool is_power_of_two(int64_t n) {
  return n > 0 && (n & (n - 1)) == 0;
}

bool fits_as_gain(const torch::Tensor& p, const torch::Tensor& x) {
  return p.defined() && p.dim() == 1 && p.size(0) == x.size(-1) &&
         p.scalar_type() == x.scalar_type() && p.device() == x.device() && p.is_contiguous() &&
         packs_aligned(p.data_ptr());
}

// What both forms need of x and of their (D) parameters.
bool kernel_accepts(const torch::Tensor& x, std::initializer_list<const torch::Tensor*> gains) {
  if (x.numel() == 0 || !rows_readable_in_place(x) ||
      (x.scalar_type() != torch::kFloat32 && x.scalar_type() != torch::kBFloat16) ||
      records_gradient({&x}))
    return false;
  for (const auto* gain : gains)
    if (!fits_as_gain(*gain, x) || records_gradient({gain})) return false;
  const int vector = pack_values(x);
  const int64_t width = x.size(-1), lanes = width / vector;
  // A grid of int blocks of kThreads threads, each lane group inside one warp.
  return width % vector == 0 && is_power_of_two(lanes) && lanes <= 32 &&
         x.numel() / width * lanes / kThreads < std::numeric_limits<int>::max() &&
         packs_aligned(x.data_ptr()) && strided_rows(x).strides_multiple_of(vector);
}

}  // namespace

const std::string& head_norm_kernel_source() {
  return kSource;
}

bool head_layer_norm_kernel_accepts(const torch::Tensor& x, const torch::Tensor& weight,
                                    const torch::Tensor& bias) {
  return kernel_accepts(x, {&weight, &bias});
}

bool head_layer_norm_uses_runtime_kernel(const torch::Tensor& x, const torch::Tensor& weight,
                                         const torch::Tensor& bias) {
  return head_layer_norm_kernel_accepts(x, weight, bias) && runtime_kernels_run_on(x);
}

torch::Tensor head_layer_norm(const torch::Tensor& x, torch::nn::LayerNorm& norm) {
  // A (head_dim) weight, which the kernel requires, is the norm's normalized shape: the last
  // dimension alone.
  if (head_layer_norm_uses_runtime_kernel(x, norm->weight, norm->bias))
    return launch(Form::kLayerNorm, x, norm->weight, norm->bias, norm->options.eps());
  return norm(x);
}

bool head_rms_norm_kernel_accepts(const torch::Tensor& x, const torch::Tensor& scale) {
  return kernel_accepts(x, {&scale});
}

bool head_rms_norm_uses_runtime_kernel(const torch::Tensor& x, const torch::Tensor& scale) {
  return head_rms_norm_kernel_accepts(x, scale) && runtime_kernels_run_on(x);
}

torch::Tensor head_rms_norm(const torch::Tensor& x, const torch::Tensor& scale, double eps) {
  require(head_rms_norm_uses_runtime_kernel(x, scale), [&] {
    return "head_rms_norm: the runtime kernel does not take x " + c10::str(x.sizes()) + " " +
           std::string(c10::toString(x.scalar_type())) + " on " + x.device().str() +
           " (head_rms_norm_uses_runtime_kernel decides)";
  });
  return launch(Form::kRms, x, scale, torch::Tensor(), eps);
}

}  // namespace vidprobe::nn
