#pragma once
// Runtime kernels that read a view in place (nn/rotary, nn/head_norm): the rows (the last
// dimension, its elements adjacent) of a (leading..., batch, heads, tokens, width) view, such as q
// and k inside the packed qkv projection of nn::Attention, found by the view's strides rather than
// through a copy that makes the view contiguous first.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace vidprobe::nn {

// The view's sizes and strides (in elements) over its rows; a dimension x lacks has size 1.
// Field for field the struct of strided_rows_source().
struct StridedRows {
  int tokens = 1, heads = 1, batch = 1;
  long long token_stride = 0, head_stride = 0, batch_stride = 0, lead_stride = 0;

  // Whether every stride is a multiple of `elements`: rows then start on vectors of that many.
  bool strides_multiple_of(int elements) const;
};

// Whether a kernel can walk x's rows with strided_rows(x): at least 2 dimensions, elements of a
// row adjacent, the dimensions before (batch, heads, tokens, width) collapsible into one index
// (one stride walks them), and sizes and row counts within int.
bool rows_readable_in_place(const torch::Tensor& x);

StridedRows strided_rows(const torch::Tensor& x);

// x with its row dimensions (all but the last) in decreasing order of stride: rows taken in
// row-major order over `view` lie in increasing memory order, so a kernel reads them as one
// stream (with gaps) and writes its result contiguous for `view`; `restore` turns that result
// back to x's dimensions, which leaves it in x's dimension order in memory (as libtorch's
// empty_like of the view, or its element-wise kernels, lay a result out). q and k read from the
// packed qkv projection so keep its (batch, tokens, heads, width) order, which v has: the attention
// allocates its output in that order too, and the output's transpose back to (batch, tokens,
// width) stays a view instead of a copy a block. x's own order where the reordered view could not
// be walked by strided_rows (as_is).
struct MemoryOrder {
  torch::Tensor view;                // x.permute(permutation)
  std::vector<int64_t> permutation;  // of x's dimensions

  // t, of x's shape or broadcast to it (a table of angles), as `view` sees x.
  torch::Tensor like_view(const torch::Tensor& t) const;
  // y, of view's shape, in x's dimensions.
  torch::Tensor restore(const torch::Tensor& y) const;
};
MemoryOrder in_memory_order(const torch::Tensor& x);
MemoryOrder as_is(const torch::Tensor& x);

// CUDA source, after runtime_kernel_prelude(): struct StridedRows; row_index(row, rows), the
// RowIndex (lead, batch entry, head, token) of row `row` in row-major order over the view's rows
// (32-bit divisions: rows_readable_in_place bounds the row count); row_offset(index, rows), its
// element offset by those strides, so that one index serves a view and a table laid out like it.
const std::string& strided_rows_source();

}  // namespace vidprobe::nn
