#include "vidprobe/nn/bilinear_resize.h"

#include <c10/core/DeviceGuard.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vidprobe/nn/runtime_kernel.h"

namespace vidprobe::nn {
namespace {

namespace F = torch::nn::functional;

// Channels-last (N, H, W, C) float32. A thread owns `VEC` channels of one pixel of one row; the
// rows are the grid's y axis. The source coordinate of output index d is scale * d with scale =
// (in - 1) / (out - 1) in float32, its taps floor and floor + 1 (the same at the last index).
// The forward pass rounds as libtorch's kernels do, so its values equal F::interpolate's: the same
// weights, and the products and fused multiply-adds each of libtorch's two kernels compiles to
// (its channels-last kernel, taken from 16 channels up, fuses the other product of the top row),
// written with intrinsics the compiler never contracts differently (checked equal on an H100 with
// torch 2.11.0+cu130; BilinearResizeCuda guards other builds). The backward pass gathers: each
// input pixel sums, over the output pixels whose taps include it, weight_row * weight_column *
// gradient, instead of scattering every output's gradient with atomics into a zeroed tensor.
const std::string kSource = runtime_kernel_prelude() + R"CUDA(
// Outputs reading one input index: at most ceil(2 / scale) = 8 when enlarging by at most 4x
// (scale >= 1/4), with a margin; the host's guard keeps every resize within that bound.
constexpr int kMaxTaps = 10;

struct Taps {
  int first;    // the lower source index
  int step;     // 1, or 0 at the last source index
  float far;    // the weight of first + step
  float near;   // the weight of first
};

__device__ __forceinline__ Taps taps_of(float scale, int dst, int in_size) {
  const float real = __fmul_rn(scale, static_cast<float>(dst));
  Taps t;
  t.first = static_cast<int>(real);
  t.step = t.first < in_size - 1 ? 1 : 0;
  t.far = __fsub_rn(real, static_cast<float>(t.first));
  t.near = __fsub_rn(1.0f, t.far);
  return t;
}

// The output indices whose taps include source index `src`, and the weight each gives it. Their
// source coordinates lie in [src - 1, src + 1); the range searched has a margin of one index on
// each side for the float32 rounding of that bound.
__device__ __forceinline__ int outputs_reading(int src, int in_size, int out_size, float scale,
                                               int* dst, float* weight) {
  const int lo = max(0, static_cast<int>(floorf((src - 1) / scale)) - 1);
  const int hi = min(out_size - 1, static_cast<int>(ceilf((src + 1) / scale)) + 1);
  int count = 0;
  for (int d = lo; d <= hi && count < kMaxTaps; ++d) {
    const Taps t = taps_of(scale, d, in_size);
    const bool near = t.first == src, far = t.first + t.step == src;
    if (!near && !far) continue;
    dst[count] = d;
    weight[count] = (near ? t.near : 0.0f) + (far ? t.far : 0.0f);
    ++count;
  }
  return count;
}

template <int VEC>
__device__ void resize_forward(const float* __restrict__ in, float* __restrict__ out, int rows,
                               int groups, int in_h, int in_w, int out_h, int out_w,
                               float scale_h, float scale_w, int libtorch_nhwc_rounding) {
  const int item = blockIdx.x * blockDim.x + threadIdx.x;
  if (item >= out_w * groups) return;
  const int x = item / groups;
  const long long channels = static_cast<long long>(groups) * VEC;
  const long long c = static_cast<long long>(item - x * groups) * VEC;
  const Taps tx = taps_of(scale_w, x, in_w);
  const long long left = tx.first * channels + c, right = (tx.first + tx.step) * channels + c;
  for (int row = blockIdx.y; row < rows; row += gridDim.y) {
    const int n = row / out_h, y = row - n * out_h;
    const Taps ty = taps_of(scale_h, y, in_h);
    const float* top = in + (static_cast<long long>(n) * in_h + ty.first) * in_w * channels;
    const float* bottom = top + static_cast<long long>(ty.step) * in_w * channels;
    const Pack<float, VEC> a = load<float, VEC>(top + left), b = load<float, VEC>(top + right);
    const Pack<float, VEC> d = load<float, VEC>(bottom + left), e = load<float, VEC>(bottom + right);
    Pack<float, VEC> r;
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      const float bottom_sum = __fmaf_rn(tx.near, d.v[i], __fmul_rn(tx.far, e.v[i]));
      const float top_sum = libtorch_nhwc_rounding
                                ? __fmaf_rn(tx.far, b.v[i], __fmul_rn(tx.near, a.v[i]))
                                : __fmaf_rn(tx.near, a.v[i], __fmul_rn(tx.far, b.v[i]));
      r.v[i] = __fmaf_rn(ty.near, top_sum, __fmul_rn(ty.far, bottom_sum));
    }
    store<float, VEC>(out + (static_cast<long long>(row) * out_w + x) * channels + c, r);
  }
}

template <int VEC>
__device__ void resize_backward(const float* __restrict__ grad_out, float* __restrict__ grad_in,
                                int rows, int groups, int in_h, int in_w, int out_h, int out_w,
                                float scale_h, float scale_w) {
  const int item = blockIdx.x * blockDim.x + threadIdx.x;
  if (item >= in_w * groups) return;
  const int x = item / groups;
  const long long channels = static_cast<long long>(groups) * VEC;
  const long long c = static_cast<long long>(item - x * groups) * VEC;
  int columns[kMaxTaps];
  float column_weights[kMaxTaps];
  const int column_count = outputs_reading(x, in_w, out_w, scale_w, columns, column_weights);
  for (int row = blockIdx.y; row < rows; row += gridDim.y) {
    const int n = row / in_h, y = row - n * in_h;
    int out_rows[kMaxTaps];
    float row_weights[kMaxTaps];
    const int row_count = outputs_reading(y, in_h, out_h, scale_h, out_rows, row_weights);
    Pack<float, VEC> sum;
#pragma unroll
    for (int i = 0; i < VEC; ++i) sum.v[i] = 0.0f;
    for (int r = 0; r < row_count; ++r) {
      const float* line =
          grad_out + (static_cast<long long>(n) * out_h + out_rows[r]) * out_w * channels + c;
      for (int k = 0; k < column_count; ++k) {
        const float w = row_weights[r] * column_weights[k];
        const Pack<float, VEC> g = load<float, VEC>(line + columns[k] * channels);
#pragma unroll
        for (int i = 0; i < VEC; ++i) sum.v[i] += w * g.v[i];
      }
    }
    store<float, VEC>(grad_in + (static_cast<long long>(row) * in_w + x) * channels + c, sum);
  }
}

#define VIDPROBE_RESIZE_KERNELS(VEC)                                                             \
  extern "C" __global__ void resize_forward_##VEC(                                              \
      const float* in, float* out, int rows, int groups, int in_h, int in_w, int out_h,          \
      int out_w, float scale_h, float scale_w, int libtorch_nhwc_rounding) {                     \
    resize_forward<VEC>(in, out, rows, groups, in_h, in_w, out_h, out_w, scale_h, scale_w,       \
                        libtorch_nhwc_rounding);                                                 \
  }                                                                                              \
  extern "C" __global__ void resize_backward_##VEC(                                             \
      const float* grad_out, float* grad_in, int rows, int groups, int in_h, int in_w,           \
      int out_h, int out_w, float scale_h, float scale_w) {                                      \
    resize_backward<VEC>(grad_out, grad_in, rows, groups, in_h, in_w, out_h, out_w, scale_h,     \
                         scale_w);                                                               \
  }
VIDPROBE_RESIZE_KERNELS(1)
VIDPROBE_RESIZE_KERNELS(4)
)CUDA";

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxGridRows = 65535;  // CUDA's limit on the grid's y extent
constexpr int64_t kMaxEnlargement = 4;    // kMaxTaps in the kernels assumes at most 4x

int vector_width(const torch::Tensor& t) {
  return t.size(1) % 4 == 0 && packs_aligned(t.data_ptr()) ? 4 : 1;
}

float align_corners_scale(int64_t in_size, int64_t out_size) {
  return static_cast<float>(in_size - 1) / static_cast<float>(out_size - 1);
}

enum class Pass { kForward, kBackward };

// Runs `pass` of the resize (in_h, in_w) -> (out_h, out_w) from `source` into a new channels-last
// tensor: the resized image forward, the input's gradient backward.
torch::Tensor launch_resize(Pass pass, const torch::Tensor& source, int64_t in_h, int64_t in_w,
                            int64_t out_h, int64_t out_w) {
  const bool forward = pass == Pass::kForward;
  const int64_t target_h = forward ? out_h : in_h, target_w = forward ? out_w : in_w;
  const c10::DeviceGuard guard(source.device());
  auto target = torch::empty({source.size(0), source.size(1), target_h, target_w},
                             source.options().memory_format(torch::MemoryFormat::ChannelsLast));
  const int vec = std::min(vector_width(source), vector_width(target));
  static const RuntimeKernel kernels[2][2] = {{{"bilinear_resize", &kSource, "resize_forward_1"},
                                               {"bilinear_resize", &kSource, "resize_forward_4"}},
                                              {{"bilinear_resize", &kSource, "resize_backward_1"},
                                               {"bilinear_resize", &kSource, "resize_backward_4"}}};
  const auto& kernel = kernels[forward ? 0 : 1][vec == 4 ? 1 : 0];
  auto rows = static_cast<int>(source.size(0) * target_h);
  auto groups = static_cast<int>(source.size(1) / vec);
  auto in_height = static_cast<int>(in_h), in_width = static_cast<int>(in_w);
  auto out_height = static_cast<int>(out_h), out_width = static_cast<int>(out_w);
  float scale_h = align_corners_scale(in_h, out_h), scale_w = align_corners_scale(in_w, out_w);
  // libtorch resizes a channels-last tensor of 16 channels or more with its own NHWC kernel.
  int libtorch_nhwc_rounding = source.size(1) >= 16 ? 1 : 0;
  const auto* input = source.data_ptr<float>();
  auto* output = target.data_ptr<float>();
  std::vector<void*> arguments{&input,    &output,     &rows,      &groups,  &in_height,
                               &in_width, &out_height, &out_width, &scale_h, &scale_w};
  if (forward) arguments.push_back(&libtorch_nhwc_rounding);
  const auto per_row = static_cast<unsigned>(target_w * groups);
  kernel.launch({.grid = {(per_row + kThreads - 1) / kThreads,
                          std::min(static_cast<unsigned>(rows), kMaxGridRows), 1},
                 .block = {kThreads, 1, 1}},
                std::move(arguments));
  return target;
}

class AlignedBilinearResize : public torch::autograd::Function<AlignedBilinearResize> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               int64_t height, int64_t width) {
    ctx->saved_data["input_height"] = x.size(2);
    ctx->saved_data["input_width"] = x.size(3);
    return launch_resize(Pass::kForward, x, x.size(2), x.size(3), height, width);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    refuse_second_derivative("resize_bilinear_aligned");
    const auto in_h = ctx->saved_data["input_height"].toInt();
    const auto in_w = ctx->saved_data["input_width"].toInt();
    const auto grad = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    return {launch_resize(Pass::kBackward, grad, in_h, in_w, grad.size(2), grad.size(3)),
            torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

const std::string& bilinear_resize_kernel_source() {
  return kSource;
}

bool bilinear_resize_uses_runtime_kernels(const torch::Tensor& x, int64_t height, int64_t width) {
  if (!runtime_kernels_built() || !x.is_cuda() || x.scalar_type() != torch::kFloat32 ||
      x.dim() != 4 || !x.is_contiguous(torch::MemoryFormat::ChannelsLast))
    return false;
  const int64_t in_h = x.size(2), in_w = x.size(3);
  // Neither shrunk nor enlarged more than 4x (the kernels' tap arrays), at most 2^24 outputs an
  // axis (float32 holds the indices exactly).
  const auto within_kernel_limits = [](int64_t in, int64_t out) {
    return in >= 2 && out >= in && out - 1 <= kMaxEnlargement * (in - 1) && out <= (1 << 24);
  };
  // The kernels index rows and pixel-channel items with int, up to a grid's stride past the end.
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  const bool fits_int =
      x.size(0) * height <= kIntMax - kMaxGridRows && width * x.size(1) <= kIntMax - kThreads;
  // Unchanged sizes are a copy in libtorch (no 0 * neighbour, which would spread a NaN).
  const bool resized = height != in_h || width != in_w;
  return x.numel() > 0 && resized && within_kernel_limits(in_h, height) &&
         within_kernel_limits(in_w, width) && fits_int &&
         runtime_kernels_support(x.device().index());
}

torch::Tensor resize_bilinear_aligned(const torch::Tensor& x, int64_t height, int64_t width) {
  if (bilinear_resize_uses_runtime_kernels(x, height, width))
    return AlignedBilinearResize::apply(x, height, width);
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{height, width})
                               .mode(torch::kBilinear)
                               .align_corners(true));
}

}  // namespace vidprobe::nn
