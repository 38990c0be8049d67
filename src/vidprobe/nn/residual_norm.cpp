#include "vidprobe/nn/residual_norm.h"

#include <c10/core/DeviceGuard.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include "vidprobe/core/error.h"
#include "vidprobe/nn/runtime_kernel.h"

namespace vidprobe::nn {
namespace {

// The row layout of nn/runtime_kernel.h (a block per row, its packs in registers), so the row is
// read once, then the mean, then the variance of the deviations (two block sums in a fixed
// order: the same row gives the same bits every run).
const std::string kSource = runtime_kernel_prelude() + R"CUDA(
struct NormLayout {
  long long gate_stride, multiplier_stride, shift_stride;  // per batch entry; 0: shared
  int width, rows_per_batch;
  float eps;
  int has_update, has_gate;
};

template <typename S, typename U, typename O>
__device__ void residual_norm(const S* __restrict__ stream, const U* __restrict__ update,
                              const float* __restrict__ gate, S* __restrict__ stream_out,
                              const float* __restrict__ multiplier,
                              const float* __restrict__ shift, O* __restrict__ out,
                              NormLayout layout) {
  __shared__ float partial[32];
  const long long row = blockIdx.x;
  const long long entry = row / layout.rows_per_batch;
  const long long base = row * layout.width;
  const int packs = layout.width / ROW_VEC;
  // Every pack of the row is loaded before any is stored. Interleaved (load a pack, store its
  // sum, load the next), each store waited for its own pack's loads and the next loads issued
  // after it: one memory round trip per pack, which a block of one warp a row at a few thousand
  // rows cannot hide (the kernel ran 11.3 us a call at 1,568 rows of 1,024, libtorch's LayerNorm
  // 5.6; docs/perf.md, sixth session). A float32 update stays in the second loop: its packs
  // beside the row's would not fit the 64 registers a thread has (ptxas spilled them).
  constexpr bool kUpdateFirst = sizeof(U) < sizeof(float);
  float v[ROW_ITEMS][ROW_VEC];
  Pack<U, ROW_VEC> u[kUpdateFirst ? ROW_ITEMS : 1];
  for_each_row_pack(packs, [&](int k, int pack) {
    const long long c = base + pack * ROW_VEC;
    const Pack<S, ROW_VEC> s = load_readonly<S, ROW_VEC>(stream + c);
#pragma unroll
    for (int i = 0; i < ROW_VEC; ++i) v[k][i] = widen(s.v[i]);
    if constexpr (kUpdateFirst)
      if (layout.has_update) u[k] = load_readonly<U, ROW_VEC>(update + c);
  });
  float sum = 0.0f;
  for_each_row_pack(packs, [&](int k, int pack) {
    if (layout.has_update) {
      const long long c = base + pack * ROW_VEC;
      if constexpr (!kUpdateFirst) u[0] = load_readonly<U, ROW_VEC>(update + c);
      const Pack<U, ROW_VEC>& update_pack = u[kUpdateFirst ? k : 0];
      Pack<S, ROW_VEC> r;
      if (layout.has_gate) {
        const Pack<float, ROW_VEC> g =
            load_readonly<float, ROW_VEC>(gate + entry * layout.gate_stride + pack * ROW_VEC);
#pragma unroll
        for (int i = 0; i < ROW_VEC; ++i)
          narrow(__fadd_rn(v[k][i], __fmul_rn(widen(update_pack.v[i]), g.v[i])), &r.v[i]);
      } else {
#pragma unroll
        for (int i = 0; i < ROW_VEC; ++i)
          narrow(__fadd_rn(v[k][i], widen(update_pack.v[i])), &r.v[i]);
      }
      store<S, ROW_VEC>(stream_out + c, r);
#pragma unroll
      for (int i = 0; i < ROW_VEC; ++i) v[k][i] = widen(r.v[i]);
    }
#pragma unroll
    for (int i = 0; i < ROW_VEC; ++i) sum += v[k][i];
  });
  const float mean = block_sum(sum, partial) / layout.width;
  float squares = 0.0f;
  for_each_row_pack(packs, [&](int k, int) {
#pragma unroll
    for (int i = 0; i < ROW_VEC; ++i) {
      const float d = __fsub_rn(v[k][i], mean);
      squares = __fmaf_rn(d, d, squares);
    }
  });
  const float rstd = rsqrtf(block_sum(squares, partial) / layout.width + layout.eps);
  for_each_row_pack(packs, [&](int k, int pack) {
    const Pack<float, ROW_VEC> m =
        load_readonly<float, ROW_VEC>(multiplier + entry * layout.multiplier_stride + pack * ROW_VEC);
    const Pack<float, ROW_VEC> a =
        load_readonly<float, ROW_VEC>(shift + entry * layout.shift_stride + pack * ROW_VEC);
    Pack<O, ROW_VEC> o;
#pragma unroll
    for (int i = 0; i < ROW_VEC; ++i) {
      const float normed = __fmul_rn(__fsub_rn(v[k][i], mean), rstd);
      narrow(__fadd_rn(__fmul_rn(normed, m.v[i]), a.v[i]), &o.v[i]);
    }
    store<O, ROW_VEC>(out + base + pack * ROW_VEC, o);
  });
}

#define VIDPROBE_RESIDUAL_NORM_KERNEL(NAME, S, U, O)                                           \
  extern "C" __global__ void __launch_bounds__(ROW_THREADS, ROW_MIN_BLOCKS)                    \
      residual_norm_##NAME(const S* stream, const U* update, const float* gate, S* stream_out, \
                           const float* multiplier, const float* shift, O* out,                \
                           NormLayout layout) {                                                \
    residual_norm<S, U, O>(stream, update, gate, stream_out, multiplier, shift, out, layout);  \
  }
VIDPROBE_RESIDUAL_NORM_KERNEL(f32_f32_f32, float, float, float)
VIDPROBE_RESIDUAL_NORM_KERNEL(f32_bf16_bf16, float, bf16_bits, bf16_bits)
VIDPROBE_RESIDUAL_NORM_KERNEL(bf16_bf16_bf16, bf16_bits, bf16_bits, bf16_bits)
)CUDA";

struct NormLayout {  // the kernel's NormLayout, field for field
  long long gate_stride, multiplier_stride, shift_stride;
  int width, rows_per_batch;
  float eps;
  int has_update, has_gate;
};

// A (D), (1, D), (1, 1, D) or (B, 1, D) vector on `device` as float32 rows of unit channel stride:
// the data and the distance between batch entries (0 when shared). nullopt for any other form,
// and for a dtype that would promote a float32 product beyond float32 (libtorch's modulation would
// then not be float32; a gate is held to the same rule).
struct RowVector {
  torch::Tensor values;  // holds the float32 copy when one was made
  long long batch_stride = 0;
};

std::optional<RowVector> row_vector(const torch::Tensor& v, int64_t batch, int64_t width,
                                    torch::Device device) {
  if (!v.defined() || v.dim() == 0 || v.dim() > 3 || v.size(-1) != width || v.device() != device)
    return std::nullopt;
  if ((v.dim() == 3 && v.size(1) != 1) || (v.dim() == 2 && v.size(0) != 1)) return std::nullopt;
  if (!at::isFloatingType(v.scalar_type()) ||
      at::promote_types(v.scalar_type(), torch::kFloat32) != torch::kFloat32)
    return std::nullopt;
  auto rows = v.reshape({-1, width});
  if (rows.size(0) != 1 && rows.size(0) != batch) return std::nullopt;
  if (rows.scalar_type() != torch::kFloat32) rows = rows.to(torch::kFloat32);
  if (rows.stride(1) != 1 || !packs_aligned(rows.data_ptr())) rows = rows.clone();
  const long long stride = rows.size(0) == 1 ? 0 : rows.stride(0);
  if (stride % kRowPack != 0 || !packs_aligned(rows.data_ptr())) return std::nullopt;
  return RowVector{rows, stride};
}

// The source's entry points, one per (stream, update, output) dtype triple.
const std::array<RuntimeKernel, 3>& kernels() {
  static const std::array<RuntimeKernel, 3> table{
      RuntimeKernel{"residual_norm", &kSource, "residual_norm_f32_f32_f32"},
      RuntimeKernel{"residual_norm", &kSource, "residual_norm_f32_bf16_bf16"},
      RuntimeKernel{"residual_norm", &kSource, "residual_norm_bf16_bf16_bf16"}};
  return table;
}

// The kernel for a stream and output dtype (the update has the output's dtype, or the stream's
// where that is bf16); nullptr for other pairs.
const RuntimeKernel* kernel_for(torch::ScalarType stream, torch::ScalarType dtype) {
  if (stream == torch::kFloat32 && dtype == torch::kFloat32) return &kernels()[0];
  if (stream == torch::kFloat32 && dtype == torch::kBFloat16) return &kernels()[1];
  if (stream == torch::kBFloat16 && dtype == torch::kBFloat16) return &kernels()[2];
  return nullptr;
}

// The gate, scale and shift as the kernel reads them, where every input qualifies.
struct KernelPlan {
  RowVector gate, multiplier, shift;
};

// The stream, update and device, before the vectors (the gate among them: row_vector) are looked
// at.
bool stream_and_update_qualify(const ResidualUpdate& u, torch::ScalarType dtype) {
  const auto& s = u.stream;
  if (!runtime_kernels_built() || !s.defined() || !s.is_cuda() || s.dim() != 3 || s.numel() == 0 ||
      !s.is_contiguous())
    return false;
  const int64_t width = s.size(-1);
  if (width % kRowPack != 0 || width > kRowMaxWidth || s.numel() / width > (int64_t{1} << 31) - 1)
    return false;
  if (kernel_for(s.scalar_type(), dtype) == nullptr || !packs_aligned(s.data_ptr())) return false;
  if (u.update.defined()) {
    const auto expected = s.scalar_type() == torch::kFloat32 ? dtype : s.scalar_type();
    if (u.update.scalar_type() != expected || u.update.device() != s.device() ||
        u.update.sizes() != s.sizes() || !u.update.is_contiguous() ||
        !packs_aligned(u.update.data_ptr()))
      return false;
  }
  return runtime_kernels_support(s.device().index());
}

std::optional<KernelPlan> plan_kernel(const ResidualUpdate& u, NormScale form,
                                      const torch::Tensor& multiplier, const torch::Tensor& shift,
                                      torch::ScalarType dtype) {
  if (!stream_and_update_qualify(u, dtype) ||
      records_gradient({&u.stream, &u.update, &u.gate, &multiplier, &shift}))
    return std::nullopt;
  if (form == NormScale::kWeightAndBias)
    for (const auto* v : {&multiplier, &shift})
      if (!v->defined() || v->dim() != 1 || v->scalar_type() != u.stream.scalar_type())
        return std::nullopt;
  const int64_t batch = u.stream.size(0), width = u.stream.size(-1);
  const auto device = u.stream.device();
  const auto m = row_vector(multiplier, batch, width, device);
  const auto s = row_vector(shift, batch, width, device);
  // The gate read as float32, as the scale and shift: the sum is formed in float32, then kept in
  // the stream's dtype.
  std::optional<RowVector> g = RowVector{};
  if (u.gate.defined()) g = row_vector(u.gate, batch, width, device);
  if (!m || !s || !g) return std::nullopt;
  return KernelPlan{*g, *m, *s};
}

// Whether the kernel can write the normed rows straight into `into` (its sizes checked already).
bool writes_into(const torch::Tensor& into) {
  return into.is_contiguous() && packs_aligned(into.data_ptr());
}

NormedStream launch(const ResidualUpdate& u, const KernelPlan& plan, double eps,
                    torch::ScalarType dtype, const torch::Tensor& into) {
  const auto &gate = plan.gate, &multiplier = plan.multiplier, &shift = plan.shift;
  const c10::DeviceGuard guard(u.stream.device());
  const int64_t width = u.stream.size(-1);
  const bool has_update = u.update.defined();
  auto stream = has_update ? torch::empty_like(u.stream) : u.stream;
  const bool direct = into.defined() && writes_into(into);
  auto out = direct ? into : torch::empty(u.stream.sizes(), u.stream.options().dtype(dtype));
  NormLayout layout{gate.batch_stride,
                    multiplier.batch_stride,
                    shift.batch_stride,
                    static_cast<int>(width),
                    static_cast<int>(u.stream.size(1)),
                    static_cast<float>(eps),
                    has_update ? 1 : 0,
                    u.gate.defined() ? 1 : 0};
  const void* stream_in = u.stream.data_ptr();
  const void* update = has_update ? u.update.data_ptr() : nullptr;
  const void* gate_values = u.gate.defined() ? gate.values.data_ptr() : nullptr;
  void* stream_out = stream.data_ptr();
  const void* multiplier_values = multiplier.values.data_ptr();
  const void* shift_values = shift.values.data_ptr();
  void* normed = out.data_ptr();
  const unsigned threads = row_block_threads(width);
  const auto rows = static_cast<unsigned>(u.stream.numel() / width);
  kernel_for(u.stream.scalar_type(), dtype)
      ->launch({.grid = {rows, 1, 1}, .block = {threads, 1, 1}},
               {&stream_in, &update, &gate_values, &stream_out, &multiplier_values, &shift_values,
                &normed, &layout});
  if (into.defined() && !direct) return {stream, into.copy_(out)};
  return {stream, out};
}

}  // namespace

const std::string& residual_norm_kernel_source() {
  return kSource;
}

bool is_residual_norm_kernel(std::string_view kernel_name) {
  return std::ranges::any_of(
      kernels(), [&](const RuntimeKernel& kernel) { return kernel.name() == kernel_name; });
}

torch::Tensor updated_stream(const ResidualUpdate& u) {
  if (!u.update.defined()) return u.stream;
  const auto math = at::promote_types(u.stream.scalar_type(), torch::kFloat32);
  if (!u.gate.defined()) return (u.stream.to(math) + u.update).to(u.stream.scalar_type());
  // The product, then the stream added into it in place: the bits of stream + product (a sum
  // commutes) with one temporary fewer. The product's backward reads its inputs, not its output.
  auto sum = u.update * u.gate.to(math);
  sum.add_(u.stream);
  return sum.to(u.stream.scalar_type());
}

const torch::Tensor& settle(ResidualUpdate& u) {
  if (u.update.defined()) u = {updated_stream(u)};
  return u.stream;
}

bool residual_norm_uses_runtime_kernel(const ResidualUpdate& u, NormScale form,
                                       const torch::Tensor& scale, const torch::Tensor& shift,
                                       torch::ScalarType dtype) {
  return plan_kernel(u, form, scale, shift, dtype).has_value();
}

std::optional<NormedStream> residual_norm_on_runtime_kernel(
    const ResidualUpdate& update, NormScale form, const torch::Tensor& scale,
    const torch::Tensor& shift, double eps, torch::ScalarType dtype, const torch::Tensor& into) {
  if (into.defined())
    require(into.sizes() == update.stream.sizes() && into.scalar_type() == dtype &&
                into.device() == update.stream.device(),
            [&] {
              std::ostringstream message;
              message << "residual_norm_on_runtime_kernel: the destination (" << into.sizes()
                      << ", " << into.scalar_type() << ", " << into.device()
                      << ") is not of the stream's sizes and device and the dtype asked for ("
                      << update.stream.sizes() << ", " << dtype << ", " << update.stream.device()
                      << ")";
              return message.str();
            });
  if (const auto plan = plan_kernel(update, form, scale, shift, dtype))
    return launch(update, *plan, eps, dtype, into);
  return std::nullopt;
}

NormedStream modulated_layer_norm(const ResidualUpdate& update, const torch::Tensor& multiplier,
                                  const torch::Tensor& shift, double eps, torch::ScalarType dtype) {
  if (auto fused = residual_norm_on_runtime_kernel(update, NormScale::kModulation, multiplier,
                                                   shift, eps, dtype))
    return *std::move(fused);
  const auto stream = updated_stream(update);
  const auto normed = torch::layer_norm(stream.to(torch::kFloat32), {stream.size(-1)}, {}, {}, eps);
  auto modulated = normed * multiplier;  // then the shift added in place, as in updated_stream
  modulated.add_(shift);
  return {stream, modulated.to(dtype)};
}

NormedStream affine_layer_norm(const ResidualUpdate& update, const torch::Tensor& weight,
                               const torch::Tensor& bias, double eps, torch::ScalarType dtype) {
  if (auto fused = residual_norm_on_runtime_kernel(update, NormScale::kWeightAndBias, weight, bias,
                                                   eps, dtype))
    return *std::move(fused);
  const auto stream = updated_stream(update);
  return {stream, torch::layer_norm(stream, {stream.size(-1)}, weight, bias, eps).to(dtype)};
}

}  // namespace vidprobe::nn
