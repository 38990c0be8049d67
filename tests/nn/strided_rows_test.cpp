#include "vidprobe/nn/strided_rows.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vidprobe::nn {
namespace {

using Sizes = std::vector<int64_t>;

// The packed (B, N, 3, heads, head_dim) projection as nn::Attention permutes it.
torch::Tensor packed_heads(int64_t batch, int64_t tokens, int64_t heads, int64_t head_dim) {
  return torch::randn({batch, tokens, 3, heads, head_dim}).permute({2, 0, 3, 1, 4});
}

// q alone, and q and k together, are walked in the projection's (batch, tokens, heads, width)
// order; a result written contiguous for that walk comes back in x's dimensions with the memory
// order libtorch's empty_like gives the view, so an attention output laid out like q turns back
// to (batch, tokens, width) without a copy.
TEST(StridedRows, RowsAreWalkedInThePackedProjectionsOrder) {
  const int64_t batch = 2, tokens = 5, heads = 3, width = 8, dim = heads * width;
  const auto qkv = packed_heads(batch, tokens, heads, width);

  const auto q = in_memory_order(qkv[0]);
  EXPECT_EQ(q.permutation, (Sizes{0, 2, 1, 3}));
  EXPECT_EQ(q.view.sizes(), (Sizes{batch, tokens, heads, width}));
  EXPECT_EQ(q.view.data_ptr(), qkv[0].data_ptr());
  const auto q_result = q.restore(torch::empty(q.view.sizes()));
  EXPECT_EQ(q_result.sizes(), qkv[0].sizes());
  EXPECT_EQ(q_result.strides(), (Sizes{tokens * dim, width, dim, 1}));
  EXPECT_EQ(q_result.strides(), torch::empty_like(qkv[0]).strides());
  EXPECT_TRUE(q_result.transpose(1, 2).is_contiguous());

  const auto qk = in_memory_order(qkv.narrow(0, 0, 2));
  EXPECT_EQ(qk.permutation, (Sizes{1, 3, 0, 2, 4}));
  const auto qk_result = qk.restore(torch::empty(qk.view.sizes()));
  EXPECT_EQ(qk_result.strides(), (Sizes{dim, tokens * 2 * dim, width, 2 * dim, 1}));
  EXPECT_EQ(qk_result.strides(), torch::empty_like(qkv.narrow(0, 0, 2)).strides());
}

// A (1, 1, tokens, width) table seen as the reordered view sees x: no stride over batch or heads.
TEST(StridedRows, TablesAreSeenInTheViewsOrder) {
  const auto qkv = packed_heads(2, 5, 3, 8);
  const auto q = in_memory_order(qkv[0]);
  const auto table = q.like_view(torch::randn({1, 1, 5, 8}));
  EXPECT_EQ(table.sizes(), (Sizes{2, 5, 3, 8}));
  EXPECT_EQ(table.strides(), (Sizes{0, 8, 0, 1}));
  const auto per_entry = q.like_view(torch::randn({2, 1, 5, 8}));
  EXPECT_EQ(per_entry.strides(), (Sizes{40, 8, 0, 1}));
}

// The kernels' walk, row_index then row_offset of strided_rows_source(), written again here on the
// host: row r of the reordered view (row-major over it) must be element offset `offset(r)` of x's
// storage, and of the table's as like_view sees it, for every row.
struct HostRowIndex {
  unsigned lead, batch, head, token;
};
HostRowIndex host_row_index(long long row, const StridedRows& s) {
  const auto r = static_cast<unsigned>(row);
  const unsigned head_row = r / s.tokens, batch_row = head_row / s.heads;
  return {batch_row / s.batch, batch_row % s.batch, head_row % s.heads, r % s.tokens};
}
long long host_row_offset(const HostRowIndex& i, const StridedRows& s) {
  return i.lead * s.lead_stride + i.batch * s.batch_stride + i.head * s.head_stride +
         i.token * s.token_stride;
}

void expect_walk_finds_every_row(const torch::Tensor& x, const torch::Tensor& table) {
  const auto order = in_memory_order(x);
  const auto rows = strided_rows(order.view);
  const auto table_view = order.like_view(table);
  const auto table_rows = strided_rows(table_view);
  const int64_t width = x.size(-1), count = x.numel() / width;
  // Each row's first element, in row-major order over the view: its offset in x's storage.
  const auto view_firsts = order.view.select(-1, 0).contiguous().view(-1);
  const auto table_firsts = table_view.select(-1, 0).contiguous().view(-1);
  const auto* base = x.const_data_ptr<float>();
  const auto* table_base = table.const_data_ptr<float>();
  for (int64_t r = 0; r < count; ++r) {
    const auto index = host_row_index(r, rows);
    ASSERT_EQ(base[host_row_offset(index, rows)], view_firsts[r].item<float>()) << "row " << r;
    ASSERT_EQ(table_base[host_row_offset(index, table_rows)], table_firsts[r].item<float>())
        << "table row " << r;
  }
}

// Every layout the kernels meet: q alone and q and k together from the packed projection, heads
// transposed out of (B, N, heads, width), a contiguous tensor; tables of one entry or one per
// batch entry. Values are distinct, so a wrong row shows.
TEST(StridedRows, TheKernelsWalkFindsEveryRowAndItsTableEntry) {
  const int64_t batch = 2, tokens = 5, heads = 3, width = 4;
  const auto distinct = [](torch::IntArrayRef sizes) {
    int64_t n = 1;
    for (const auto s : sizes) n *= s;
    return torch::arange(n, torch::kFloat32).view(sizes);
  };
  const auto packed =
      distinct({batch, tokens, 3, heads, width}).permute({2, 0, 3, 1, 4});  // (3, B, H, N, w)
  const auto transposed = distinct({batch, tokens, heads, width}).transpose(1, 2);
  const auto contiguous = distinct({batch, heads, tokens, width});
  for (const int64_t table_batch : {int64_t{1}, batch}) {
    SCOPED_TRACE("table batch " + std::to_string(table_batch));
    const auto table = distinct({table_batch, 1, tokens, width}) + 1000;
    expect_walk_finds_every_row(packed[0], table);
    expect_walk_finds_every_row(packed.narrow(0, 0, 2), table);
    expect_walk_finds_every_row(transposed, table);
    expect_walk_finds_every_row(contiguous, table);
  }
}

TEST(StridedRows, ContiguousTensorsKeepTheirOrder) {
  const auto x = torch::randn({2, 3, 7, 16});
  const auto order = in_memory_order(x);
  EXPECT_EQ(order.permutation, (Sizes{0, 1, 2, 3}));
  EXPECT_TRUE(order.restore(torch::empty(order.view.sizes())).is_contiguous());
}

// Leading dimensions that do not collapse in x's order do in memory order; a view whose channels
// lie apart cannot be walked by rows at all and keeps its order.
TEST(StridedRows, OnlyWalkableOrdersAreTaken) {
  const auto leading_swapped = torch::randn({3, 2, 4, 5, 6, 8}).transpose(0, 1);
  ASSERT_FALSE(rows_readable_in_place(leading_swapped));
  const auto order = in_memory_order(leading_swapped);
  EXPECT_EQ(order.permutation, (Sizes{1, 0, 2, 3, 4, 5}));
  EXPECT_TRUE(order.view.is_contiguous());

  const auto channels_apart = torch::randn({4, 8, 6}).transpose(1, 2);
  EXPECT_EQ(in_memory_order(channels_apart).permutation, (Sizes{0, 1, 2}));
}

}  // namespace
}  // namespace vidprobe::nn
