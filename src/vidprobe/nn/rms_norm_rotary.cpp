#include "vidprobe/nn/rms_norm_rotary.h"

#include <c10/core/DeviceGuard.h>

#include <algorithm>
#include <vector>

#include "vidprobe/core/error.h"
#include "vidprobe/nn/runtime_kernel.h"

namespace vidprobe::nn {
namespace {

// The row layout of nn/runtime_kernel.h, a row being a token of one batch entry and a pack two
// channel pairs. The normalised value is rounded to T before it is turned, as at::rms_norm's
// output is, and the complex product is formed in float32 as c10::complex's.
const std::string kSource = runtime_kernel_prelude() + R"CUDA(
struct RmsLayout {
  int width, tokens, pairs_per_head;
  float eps;
};

template <typename T>
__device__ void rms_norm_rotate(const T* __restrict__ in, const T* __restrict__ weight,
                                const float2* __restrict__ rotation, T* __restrict__ out,
                                RmsLayout layout) {
  __shared__ float partial[32];
  const long long row = blockIdx.x;
  const long long base = row * layout.width;
  const float2* turns = rotation + (row % layout.tokens) * layout.pairs_per_head;
  const int packs = layout.width / ROW_VEC;
  float v[ROW_ITEMS][ROW_VEC];
  float squares = 0.0f;
  for_each_row_pack(packs, [&](int k, int pack) {
    const Pack<T, ROW_VEC> x = load_readonly<T, ROW_VEC>(in + base + pack * ROW_VEC);
#pragma unroll
    for (int i = 0; i < ROW_VEC; ++i) {
      v[k][i] = widen(x.v[i]);
      squares = __fmaf_rn(v[k][i], v[k][i], squares);
    }
  });
  const float rstd = rsqrtf(block_sum(squares, partial) / layout.width + layout.eps);
  for_each_row_pack(packs, [&](int k, int pack) {
    const int channel = pack * ROW_VEC;
    const Pack<T, ROW_VEC> w = load_readonly<T, ROW_VEC>(weight + channel);
    float y[ROW_VEC];
#pragma unroll
    for (int i = 0; i < ROW_VEC; ++i)
      y[i] = rounded<T>(__fmul_rn(__fmul_rn(v[k][i], rstd), widen(w.v[i])));
    const int pair = (channel / 2) % layout.pairs_per_head;
    Pack<T, ROW_VEC> o;
    const float4 both = __ldg(reinterpret_cast<const float4*>(turns + pair));  // pair is even
    const float2 pair_turns[2] = {make_float2(both.x, both.y), make_float2(both.z, both.w)};
#pragma unroll
    for (int p = 0; p < ROW_VEC / 2; ++p) {
      const float2 turn = pair_turns[p];
      const float even = y[2 * p], odd = y[2 * p + 1];
      narrow(__fsub_rn(__fmul_rn(even, turn.x), __fmul_rn(odd, turn.y)), &o.v[2 * p]);
      narrow(__fadd_rn(__fmul_rn(even, turn.y), __fmul_rn(odd, turn.x)), &o.v[2 * p + 1]);
    }
    store<T, ROW_VEC>(out + base + channel, o);
  });
}

extern "C" __global__ void __launch_bounds__(ROW_THREADS, ROW_MIN_BLOCKS)
    rms_norm_rotate_f32(const float* in, const float* weight, const float2* rotation, float* out,
                        RmsLayout layout) {
  rms_norm_rotate<float>(in, weight, rotation, out, layout);
}
extern "C" __global__ void __launch_bounds__(ROW_THREADS, ROW_MIN_BLOCKS)
    rms_norm_rotate_bf16(const bf16_bits* in, const bf16_bits* weight, const float2* rotation,
                         bf16_bits* out, RmsLayout layout) {
  rms_norm_rotate<bf16_bits>(in, weight, rotation, out, layout);
}
)CUDA";

struct RmsLayout {  // the kernel's RmsLayout, field for field
  int width, tokens, pairs_per_head;
  float eps;
};

torch::Tensor launch(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                     const torch::Tensor& rotation) {
  const c10::DeviceGuard guard(x.device());
  static const RuntimeKernel kernels[2] = {{"rms_norm_rotary", &kSource, "rms_norm_rotate_f32"},
                                           {"rms_norm_rotary", &kSource, "rms_norm_rotate_bf16"}};
  const int64_t width = x.size(-1), pairs = rotation.size(-1);
  auto out = torch::empty({x.size(0), x.size(1), width / (2 * pairs), 2 * pairs}, x.options());
  auto gains = weight.to(x.scalar_type()).contiguous();
  if (!packs_aligned(gains.data_ptr())) gains = gains.clone();
  RmsLayout layout{static_cast<int>(width), static_cast<int>(x.size(1)), static_cast<int>(pairs),
                   static_cast<float>(eps)};
  const void* input = x.data_ptr();
  const void* gain_values = gains.data_ptr();
  const void* turns = rotation.data_ptr();
  void* output = out.data_ptr();
  const unsigned threads = row_block_threads(width);
  kernels[x.scalar_type() == torch::kBFloat16 ? 1 : 0].launch(
      {.grid = {static_cast<unsigned>(x.numel() / width), 1, 1}, .block = {threads, 1, 1}},
      {&input, &gain_values, &turns, &output, &layout});
  return out;
}

}  // namespace

const std::string& rms_norm_rotary_kernel_source() {
  return kSource;
}

torch::Tensor rotate_pairs(const torch::Tensor& x, const torch::Tensor& rotation) {
  // (even + i odd) * (cos + i sin) = (even cos - odd sin) + i (even sin + odd cos)
  const auto pairs =
      torch::view_as_complex(x.to(torch::kFloat32).unflatten(-1, {-1, 2}).contiguous());
  return torch::view_as_real(pairs * rotation).flatten(-2).to(x.scalar_type());
}

bool rms_norm_rotary_uses_runtime_kernel(const torch::Tensor& x, const torch::Tensor& weight,
                                         const torch::Tensor& rotation) {
  if (!runtime_kernels_built() || !x.is_cuda() || x.dim() != 3 || x.numel() == 0 ||
      !x.is_contiguous() ||
      (x.scalar_type() != torch::kFloat32 && x.scalar_type() != torch::kBFloat16))
    return false;
  if (records_gradient({&x, &weight, &rotation})) return false;
  const int64_t width = x.size(-1);
  if (!weight.defined() || weight.dim() != 1 || weight.size(0) != width ||
      weight.device() != x.device() || !at::isFloatingType(weight.scalar_type()))
    return false;
  if (!rotation.defined() || rotation.scalar_type() != torch::kComplexFloat ||
      rotation.dim() != 3 || rotation.size(0) != x.size(1) || rotation.size(1) != 1 ||
      rotation.size(2) == 0 || rotation.device() != x.device() || !rotation.is_contiguous())
    return false;
  const int64_t head_dim = 2 * rotation.size(-1);
  return width % kRowPack == 0 && width <= kRowMaxWidth && head_dim % kRowPack == 0 &&
         width % head_dim == 0 && x.numel() / width < (int64_t{1} << 31) &&
         packs_aligned(x.data_ptr()) && packs_aligned(rotation.data_ptr()) &&
         runtime_kernels_support(x.device().index());
}

torch::Tensor rms_norm_rotate_pairs(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                                    const torch::Tensor& rotation) {
  require(x.dim() == 3 && rotation.dim() >= 2 && rotation.size(-1) > 0 &&
              x.size(-1) % (2 * rotation.size(-1)) == 0,
          "rms_norm_rotate_pairs: x " + c10::str(x.sizes()) + " does not split into heads of " +
              "twice the rotation table's " + c10::str(rotation.sizes()) + " pairs");
  if (rms_norm_rotary_uses_runtime_kernel(x, weight, rotation))
    return launch(x, weight, eps, rotation);
  const auto normed = at::rms_norm(x, {x.size(-1)}, weight.to(x.scalar_type()), eps);
  return rotate_pairs(normed.unflatten(-1, {-1, 2 * rotation.size(-1)}), rotation);
}

}  // namespace vidprobe::nn
