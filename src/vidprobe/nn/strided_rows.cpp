#include "vidprobe/nn/strided_rows.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>

namespace vidprobe::nn {
namespace {

constexpr int64_t kIntMax = std::numeric_limits<int>::max();

int64_t size_or_one(const torch::Tensor& x, int64_t from_end) {
  return x.dim() >= from_end ? x.size(-from_end) : 1;
}

int64_t stride_or_zero(const torch::Tensor& x, int64_t from_end) {
  return x.dim() >= from_end ? x.stride(-from_end) : 0;
}

// Whether dimensions 0 .. dim - 5 index x as one dimension would (row-major), so that one stride,
// x.stride(-5), walks all of them.
bool leading_dimensions_collapse(const torch::Tensor& x) {
  for (int64_t d = 0; d + 5 < x.dim(); ++d)
    if (x.size(d) != 1 && x.stride(d) != x.stride(d + 1) * x.size(d + 1)) return false;
  return true;
}

}  // namespace

bool StridedRows::strides_multiple_of(int elements) const {
  for (const auto stride : {token_stride, head_stride, batch_stride, lead_stride})
    if (stride % elements != 0) return false;
  return true;
}

bool rows_readable_in_place(const torch::Tensor& x) {
  if (x.dim() < 2 || x.stride(-1) != 1 || !leading_dimensions_collapse(x)) return false;
  for (const int64_t from_end : {2, 3, 4})
    if (size_or_one(x, from_end) > kIntMax) return false;
  return x.numel() / x.size(-1) < kIntMax;
}

StridedRows strided_rows(const torch::Tensor& x) {
  return {static_cast<int>(size_or_one(x, 2)),
          static_cast<int>(size_or_one(x, 3)),
          static_cast<int>(size_or_one(x, 4)),
          stride_or_zero(x, 2),
          stride_or_zero(x, 3),
          stride_or_zero(x, 4),
          stride_or_zero(x, 5)};
}

torch::Tensor MemoryOrder::like_view(const torch::Tensor& t) const {
  return t.expand(restore(view).sizes()).permute(permutation);
}

torch::Tensor MemoryOrder::restore(const torch::Tensor& y) const {
  std::vector<int64_t> inverse(permutation.size());
  for (size_t i = 0; i < permutation.size(); ++i) inverse[permutation[i]] = static_cast<int64_t>(i);
  return y.permute(inverse);
}

MemoryOrder as_is(const torch::Tensor& x) {
  std::vector<int64_t> identity(x.dim());
  std::iota(identity.begin(), identity.end(), 0);
  return {x, std::move(identity)};
}

MemoryOrder in_memory_order(const torch::Tensor& x) {
  if (x.dim() < 2) return as_is(x);
  // Dimensions of size 1 go first (their stride means nothing), the others by decreasing stride,
  // ties in x's order; the last stays last.
  std::vector<int64_t> order;
  for (int64_t d = 0; d + 1 < x.dim(); ++d)
    if (x.size(d) == 1) order.push_back(d);
  const auto sized_from = static_cast<std::ptrdiff_t>(order.size());
  for (int64_t d = 0; d + 1 < x.dim(); ++d)
    if (x.size(d) != 1) order.push_back(d);
  std::stable_sort(order.begin() + sized_from, order.end(),
                   [&x](int64_t a, int64_t b) { return x.stride(a) > x.stride(b); });
  order.push_back(x.dim() - 1);
  auto view = x.permute(order);
  if (!rows_readable_in_place(view)) return as_is(x);
  return {std::move(view), std::move(order)};
}

const std::string& strided_rows_source() {
  static const std::string source = R"CUDA(
struct StridedRows {
  int tokens, heads, batch;
  long long token_stride, head_stride, batch_stride, lead_stride;
};
struct RowIndex {
  unsigned lead, batch, head, token;
};
__device__ __forceinline__ RowIndex row_index(long long row, const StridedRows& s) {
  const unsigned r = static_cast<unsigned>(row);
  const unsigned head_row = r / s.tokens, batch_row = head_row / s.heads;
  return {batch_row / s.batch, batch_row % s.batch, head_row % s.heads, r % s.tokens};
}
__device__ __forceinline__ long long row_offset(const RowIndex& i, const StridedRows& s) {
  return i.lead * s.lead_stride + i.batch * s.batch_stride + i.head * s.head_stride +
         i.token * s.token_stride;
}
)CUDA";
  return source;
}

}  // namespace vidprobe::nn
