#pragma once
// Runtime kernels that read a view in place (nn/rotary, nn/head_norm): the rows (the last
// dimension, its elements adjacent) of a (leading..., batch, heads, tokens, width) view, such as q
// and k inside the packed qkv projection of nn::Attention, found by the view's strides rather than
// through a copy that makes the view contiguous first.
#include <torch/torch.h>

#include <string>

namespace vidprobe::nn {

// The view's sizes and strides (in elements) over its rows; a dimension x lacks has size 1.
// Field for field the struct of strided_rows_source().
struct StridedRows {
  int tokens = 1, heads = 1, batch = 1;
  long long token_stride = 0, head_stride = 0, batch_stride = 0, lead_stride = 0;

  // Whether every stride is a multiple of `vector` elements: rows then start on vectors.
  bool strides_multiple_of(int vector) const;
};

// Whether a kernel can walk x's rows with strided_rows(x): at least 2 dimensions, elements of a
// row adjacent, the dimensions before (batch, heads, tokens, width) collapsible into one index
// (one stride walks them), and sizes and row counts within int.
bool rows_readable_in_place(const torch::Tensor& x);

StridedRows strided_rows(const torch::Tensor& x);

// CUDA source, after runtime_kernel_prelude(): struct StridedRows and strided_row(row, rows), the
// RowPlace of row `row` in row-major order over the view's rows: its element offset, token and
// batch entry.
const std::string& strided_rows_source();

}  // namespace vidprobe::nn
