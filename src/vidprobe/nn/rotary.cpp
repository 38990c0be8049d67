#include "vidprobe/nn/rotary.h"

#include <c10/core/DeviceGuard.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vidprobe/core/error.h"
#include "vidprobe/nn/runtime_kernel.h"
#include "vidprobe/nn/strided_rows.h"

namespace vidprobe::nn {
namespace {

// One pass where libtorch's composition (x * cos, the pair swap, swapped * signed_sin, the sum)
// takes four kernels and their intermediates, forward and backward. Each product and the sum are
// rounded to the tensor's dtype as libtorch's kernels round them (float math, round to nearest
// even), with intrinsics the compiler never fuses, so the values are libtorch's bit for bit. The
// backward of y = x * cos + swap(x) * s is g * cos + swap(g * s): the swap is its own inverse.
// Element e of the output, written contiguous for x's rows in memory order (nn/strided_rows.h,
// in_memory_order), reads x at its strides and the tables at theirs (the (1 or batch, 1, tokens,
// width) tables broadcast to x and reordered alike: one row index serves both); its pair partner
// lies `partner_offset` channels away (kSplitHalves) or is its neighbour (kInterleaved, channel ^
// 1). Reading by strides lets q and k come straight from the packed projection's permuted view,
// without a copy to make them dense, and the result keeps that view's dimension order.
const std::string kRotarySource = runtime_kernel_prelude() + strided_rows_source() + R"CUDA(
struct Layout {
  long long vectors;  // elements / VEC
  int width;
  int partner_offset;  // kSplitHalves: half of an axis block's width; 0: kInterleaved
  StridedRows rows, table_rows;  // x's and the tables', in memory order
};

// out = in * cos + partner(in * sin_source), where sin_source pairs with `in` at the partner's
// table entry (backward) or at the element's own (forward): for the forward partner(x) * s,
// for the backward partner(g * s).
template <typename T, int VEC, bool BACKWARD>
__device__ void rotate(const T* __restrict__ in, const T* __restrict__ cos_table,
                       const T* __restrict__ sin_table, T* __restrict__ out, Layout layout) {
  const long long vector = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (vector >= layout.vectors) return;
  const long long e = vector * VEC;
  const int channel = static_cast<int>(e % layout.width);
  const RowIndex index = row_index(e / layout.width, layout.rows);
  const long long source = row_offset(index, layout.rows) + channel;
  const long long t = row_offset(index, layout.table_rows) + channel;
  const Pack<T, VEC> x = load<T, VEC>(in + source), c = load<T, VEC>(cos_table + t);
  Pack<T, VEC> px, ps, y;
  if (layout.partner_offset == 0) {  // neighbours: the partner vector is this one, pairs swapped
    const Pack<T, VEC> s = load<T, VEC>(sin_table + t);
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      px.v[i] = x.v[i ^ 1];
      ps.v[i] = BACKWARD ? s.v[i ^ 1] : s.v[i];
    }
  } else {
    const int half = layout.partner_offset, block = 2 * half;
    const int shift = channel % block < half ? half : -half;
    px = load<T, VEC>(in + source + shift);
    ps = load<T, VEC>(sin_table + t + (BACKWARD ? shift : 0));
  }
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    const float direct = rounded<T>(__fmul_rn(widen(x.v[i]), widen(c.v[i])));
    const float turned = rounded<T>(__fmul_rn(widen(px.v[i]), widen(ps.v[i])));
    narrow(__fadd_rn(direct, turned), &y.v[i]);
  }
  store<T, VEC>(out + e, y);
}

#define VIDPROBE_ROTARY_KERNELS(NAME, T, VEC)                                                    \
  extern "C" __global__ void rotary_forward_##NAME(const T* in, const T* cos_table,             \
                                                   const T* sin_table, T* out, Layout layout) {  \
    rotate<T, VEC, false>(in, cos_table, sin_table, out, layout);                                \
  }                                                                                              \
  extern "C" __global__ void rotary_backward_##NAME(const T* in, const T* cos_table,            \
                                                    const T* sin_table, T* out, Layout layout) { \
    rotate<T, VEC, true>(in, cos_table, sin_table, out, layout);                                 \
  }
VIDPROBE_ROTARY_KERNELS(f32_1, float, 1)
VIDPROBE_ROTARY_KERNELS(f32_4, float, 4)
VIDPROBE_ROTARY_KERNELS(bf16_1, bf16_bits, 1)
VIDPROBE_ROTARY_KERNELS(bf16_8, bf16_bits, 8)
)CUDA";

struct RotaryLayout {  // the kernels' Layout, field for field
  long long vectors;
  int width;
  int partner_offset;
  StridedRows rows, table_rows;
};

constexpr unsigned kRotaryThreads = 256;

// Channels between pair partners for the kernels: half an axis block's width (kSplitHalves), 0 for
// kInterleaved taken a vector at a time (partners inside each vector), 1 for it one at a time.
int partner_offset(const RotaryAngles& angles, int64_t width, int vector) {
  if (angles.pairing == RotaryAngles::Pairing::kInterleaved) return vector == 1 ? 1 : 0;
  return static_cast<int>(width / angles.axes / 2);
}

// 16 bytes a thread where every pair partner and table entry lies in the same kind of vector and
// every row of x and of the tables starts on a vector.
int rotary_vector(const torch::Tensor& source, const StridedRows& rows,
                  const StridedRows& table_rows, const std::vector<torch::Tensor>& tensors,
                  const RotaryAngles& angles, int64_t width) {
  const int vector = 16 / static_cast<int>(source.element_size());
  const int offset = partner_offset(angles, width, vector);
  const bool partners_fit = offset == 0 ? vector % 2 == 0 : offset % vector == 0;
  bool aligned = width % vector == 0 && partners_fit && packs_aligned(source.data_ptr()) &&
                 rows.strides_multiple_of(vector) && table_rows.strides_multiple_of(vector);
  for (const auto& t : tensors) aligned = aligned && packs_aligned(t.data_ptr());
  return aligned ? vector : 1;
}

enum class RotaryPass { kForward, kBackward };

// `source` (x forward, the output's gradient backward) rotated into a new tensor.
torch::Tensor launch_rotary(RotaryPass pass, const torch::Tensor& source, const torch::Tensor& cos,
                            const torch::Tensor& signed_sin, const RotaryAngles& angles) {
  const c10::DeviceGuard guard(source.device());
  const auto order = in_memory_order(source);
  auto target = torch::empty(order.view.sizes(),
                             source.options().memory_format(torch::MemoryFormat::Contiguous));
  const int64_t width = source.size(-1);
  // cos and signed_sin share one layout (prepared together, contiguous).
  const auto rows = strided_rows(order.view), table_rows = strided_rows(order.like_view(cos));
  const int vector =
      rotary_vector(source, rows, table_rows, {target, cos, signed_sin}, angles, width);
  const bool bf16 = source.scalar_type() == torch::kBFloat16;
  static const RuntimeKernel kernels[2][2][2] = {
      {{{"rotary", &kRotarySource, "rotary_forward_f32_1"},
        {"rotary", &kRotarySource, "rotary_forward_f32_4"}},
       {{"rotary", &kRotarySource, "rotary_forward_bf16_1"},
        {"rotary", &kRotarySource, "rotary_forward_bf16_8"}}},
      {{{"rotary", &kRotarySource, "rotary_backward_f32_1"},
        {"rotary", &kRotarySource, "rotary_backward_f32_4"}},
       {{"rotary", &kRotarySource, "rotary_backward_bf16_1"},
        {"rotary", &kRotarySource, "rotary_backward_bf16_8"}}}};
  const auto& kernel =
      kernels[pass == RotaryPass::kForward ? 0 : 1][bf16 ? 1 : 0][vector == 1 ? 0 : 1];
  RotaryLayout layout{source.numel() / vector, static_cast<int>(width),
                      partner_offset(angles, width, vector), rows, table_rows};
  const void* input = source.data_ptr();
  const void* cos_table = cos.data_ptr();
  const void* sin_table = signed_sin.data_ptr();
  void* output = target.data_ptr();
  const auto blocks = (layout.vectors + kRotaryThreads - 1) / kRotaryThreads;
  kernel.launch({.grid = {static_cast<unsigned>(blocks), 1, 1}, .block = {kRotaryThreads, 1, 1}},
                {&input, &cos_table, &sin_table, &output, &layout});
  return order.restore(target);
}

class RotaryTurn : public torch::autograd::Function<RotaryTurn> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& cos, const torch::Tensor& signed_sin,
                               int64_t pairing, int64_t axes) {
    ctx->save_for_backward({cos, signed_sin});
    ctx->saved_data["pairing"] = pairing;
    ctx->saved_data["axes"] = axes;
    return launch_rotary(RotaryPass::kForward, x, cos, signed_sin, angles_of(pairing, axes));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    refuse_second_derivative("apply_rotary");
    const auto saved = ctx->get_saved_variables();
    const auto angles =
        angles_of(ctx->saved_data["pairing"].toInt(), ctx->saved_data["axes"].toInt());
    return {launch_rotary(RotaryPass::kBackward, grads[0].contiguous(), saved[0], saved[1], angles),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }

 private:
  static RotaryAngles angles_of(int64_t pairing, int64_t axes) {
    RotaryAngles angles;
    angles.pairing = static_cast<RotaryAngles::Pairing>(pairing);
    angles.axes = static_cast<int>(axes);
    return angles;
  }
};

// (a, b) -> (b, a) for every rotated pair; one copy.
torch::Tensor swap_pairs(const torch::Tensor& x, const RotaryAngles& angles) {
  if (angles.pairing == RotaryAngles::Pairing::kInterleaved)
    return x.unflatten(-1, {-1, 2}).flip(-1).flatten(-2);
  return x.unflatten(-1, {angles.axes, 2, -1}).flip(-2).flatten(-3);
}

// -1 on the channel of each pair that receives -b, +1 on the other.
torch::Tensor pair_signs(const RotaryAngles& angles, int64_t head_dim,
                         const torch::TensorOptions& options) {
  auto signs = torch::ones({head_dim}, options);
  if (angles.pairing == RotaryAngles::Pairing::kInterleaved)
    signs.slice(0, 0, head_dim, 2).fill_(-1);
  else
    signs.view({angles.axes, 2, -1}).select(1, 0).fill_(-1);
  return signs;
}

// (B, N) positions along one axis -> (B, 1, N, d) angles, each frequency used by channels i and
// i + d / 2.
torch::Tensor axis_angles(const torch::Tensor& position, int64_t d, double base) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(position.device());
  const auto inv_freq = torch::pow(base, -torch::arange(0, d, 2, options) / static_cast<double>(d));
  const auto angles = position.to(torch::kFloat32).unsqueeze(-1) * inv_freq;
  return torch::cat({angles, angles}, -1).unsqueeze(1);
}

}  // namespace

const std::string& rotary_kernel_source() {
  return kRotarySource;
}

bool rotary_kernel_accepts(const torch::Tensor& x, const RotaryAngles& prepared) {
  const auto& cos = prepared.cos;
  const auto& sin = prepared.signed_sin;
  if (x.dim() < 4 || x.numel() == 0 || !rows_readable_in_place(x) || !sin.defined()) return false;
  const auto dtype = x.scalar_type();
  if ((dtype != torch::kFloat32 && dtype != torch::kBFloat16) || cos.scalar_type() != dtype ||
      sin.scalar_type() != dtype)
    return false;
  // Tables (1 or the batch, 1, tokens, width), contiguous, beside x, constants of the graph.
  const int64_t width = x.size(-1), tokens = x.size(-2), batch = x.size(-4);
  for (const auto* table : {&cos, &sin})
    if (table->dim() != 4 || table->device() != x.device() || !table->is_contiguous() ||
        table->requires_grad() || table->size(1) != 1 || table->size(2) != tokens ||
        table->size(3) != width || (table->size(0) != 1 && table->size(0) != batch))
      return false;
  const bool pairs_fit = prepared.pairing == RotaryAngles::Pairing::kInterleaved
                             ? width % 2 == 0
                             : prepared.axes > 0 && width % (2 * prepared.axes) == 0;
  // The kernels index channels with int and elements with 64 bits.
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  return pairs_fit && width <= kIntMax && x.numel() / kRotaryThreads < kIntMax;
}

bool rotary_uses_runtime_kernels(const torch::Tensor& x, const RotaryAngles& prepared) {
  return rotary_kernel_accepts(x, prepared) && runtime_kernels_run_on(x);
}

torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryAngles& angles) {
  const auto prepared = in_dtype(angles, x.scalar_type());
  if (rotary_uses_runtime_kernels(x, prepared))
    return RotaryTurn::apply(x, prepared.cos, prepared.signed_sin,
                             static_cast<int64_t>(prepared.pairing), prepared.axes);
  return x * prepared.cos + swap_pairs(x, angles) * prepared.signed_sin;
}

RotaryAngles in_dtype(const RotaryAngles& angles, torch::ScalarType dtype) {
  if (angles.signed_sin.defined() && angles.signed_sin.scalar_type() == dtype &&
      angles.cos.scalar_type() == dtype)
    return angles;  // prepared already: the tables are shared, nothing is computed
  const auto sin = angles.sin.to(dtype);
  return {angles.cos.to(dtype), sin, angles.pairing, angles.axes,
          sin * pair_signs(angles, sin.size(-1), sin.options())};
}

RotaryAngles rope_2d(const torch::Tensor& positions, int64_t head_dim, double base) {
  require(head_dim % 4 == 0,
          "2D RoPE needs a head width divisible by 4, got " + std::to_string(head_dim));
  require(positions.dim() == 3 && positions.size(-1) == 2,
          "2D RoPE positions must be (B, N, 2), got " + c10::str(positions.sizes()));
  const int64_t half = head_dim / 2;
  const auto angles = torch::cat({axis_angles(positions.select(-1, 0), half, base),
                                  axis_angles(positions.select(-1, 1), half, base)},
                                 -1);
  return {angles.cos(), angles.sin(), RotaryAngles::Pairing::kSplitHalves, 2};
}

torch::Tensor grid_positions(int64_t h, int64_t w, torch::Device device) {
  const auto options = torch::TensorOptions().dtype(torch::kLong).device(device);
  const auto grid = torch::meshgrid({torch::arange(h, options), torch::arange(w, options)}, "ij");
  return torch::stack({grid[0].reshape(-1), grid[1].reshape(-1)}, -1).unsqueeze(0);
}

RotaryAngles rope_axes_interleaved(const torch::Tensor& positions,
                                   const std::vector<int64_t>& axis_widths, double theta) {
  require(positions.dim() == 2 && positions.size(1) == static_cast<int64_t>(axis_widths.size()),
          "RoPE positions must be (tokens, " + std::to_string(axis_widths.size()) + "), got " +
              c10::str(positions.sizes()));
  const auto options = torch::TensorOptions().dtype(torch::kFloat64).device(positions.device());
  std::vector<torch::Tensor> per_axis;
  for (std::size_t a = 0; a < axis_widths.size(); ++a) {
    const int64_t width = axis_widths[a];
    require(width > 0 && width % 2 == 0, "RoPE axis " + std::to_string(a) +
                                             " needs an even width, got " + std::to_string(width));
    const auto inv_freq =
        torch::pow(theta, -torch::arange(0, width, 2, options) / static_cast<double>(width));
    const auto position = positions.select(1, static_cast<int64_t>(a)).to(torch::kFloat64);
    per_axis.push_back(torch::outer(position, inv_freq).repeat_interleave(2, 1));
  }
  const auto angles = torch::cat(per_axis, 1).unsqueeze(0).unsqueeze(0);
  return {angles.cos().to(torch::kFloat32), angles.sin().to(torch::kFloat32),
          RotaryAngles::Pairing::kInterleaved, 1};
}

RotaryAngles rope_axes_split_halves(const torch::Tensor& positions,
                                    const std::vector<int64_t>& axis_widths, double theta) {
  require(positions.dim() == 3 && positions.size(2) == static_cast<int64_t>(axis_widths.size()),
          "RoPE positions must be (B, tokens, " + std::to_string(axis_widths.size()) + "), got " +
              c10::str(positions.sizes()));
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(positions.device());
  std::vector<torch::Tensor> per_axis;
  for (std::size_t a = 0; a < axis_widths.size(); ++a) {
    const int64_t width = axis_widths[a];
    require(width > 0 && width % 2 == 0, "RoPE axis " + std::to_string(a) +
                                             " needs an even width, got " + std::to_string(width));
    const auto inv_freq =
        1.0 / torch::pow(theta, torch::arange(0, width, 2, options) / static_cast<double>(width));
    const auto position = positions.select(2, static_cast<int64_t>(a)).to(torch::kFloat32);
    per_axis.push_back(position.unsqueeze(-1) * inv_freq);
  }
  const auto half = torch::cat(per_axis, -1);
  const auto angles = torch::cat({half, half}, -1).unsqueeze(1);
  return {angles.cos(), angles.sin(), RotaryAngles::Pairing::kSplitHalves, 1};
}

RotaryAngles with_unrotated_prefix(const RotaryAngles& angles, int64_t tokens) {
  auto shape = angles.cos.sizes().vec();
  shape[shape.size() - 2] = tokens;
  const auto prefixed = [&shape](const torch::Tensor& table, double value) {
    if (!table.defined()) return table;
    return torch::cat({torch::full(shape, value, table.options()), table}, -2);
  };
  return {prefixed(angles.cos, 1), prefixed(angles.sin, 0), angles.pairing, angles.axes,
          prefixed(angles.signed_sin, 0)};
}

RotaryAngles regroup(const RotaryAngles& angles, at::IntArrayRef shape) {
  return {angles.cos.reshape(shape), angles.sin.reshape(shape), angles.pairing, angles.axes,
          angles.signed_sin.defined() ? angles.signed_sin.reshape(shape) : torch::Tensor()};
}

}  // namespace vidprobe::nn
