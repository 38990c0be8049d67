#include "vidprobe/nn/strided_rows.h"

#include <cstdint>
#include <limits>

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

bool StridedRows::strides_multiple_of(int vector) const {
  for (const auto stride : {token_stride, head_stride, batch_stride, lead_stride})
    if (stride % vector != 0) return false;
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

const std::string& strided_rows_source() {
  static const std::string source = R"CUDA(
struct StridedRows {
  int tokens, heads, batch;
  long long token_stride, head_stride, batch_stride, lead_stride;
};
struct RowPlace {
  long long offset;
  int token, batch_entry;
};
__device__ __forceinline__ RowPlace strided_row(long long row, const StridedRows& s) {
  const int token = static_cast<int>(row % s.tokens);
  const long long head_row = row / s.tokens;
  const int head = static_cast<int>(head_row % s.heads);
  const long long batch_row = head_row / s.heads;
  const int b = static_cast<int>(batch_row % s.batch);
  return {batch_row / s.batch * s.lead_stride + b * s.batch_stride + head * s.head_stride +
              token * s.token_stride,
          token, b};
}
)CUDA";
  return source;
}

}  // namespace vidprobe::nn
