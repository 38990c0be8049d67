// nn::tiled_spatial's own rules (the families' parity tests check it against the reference VAEs:
// tests/backbones/cogvideox/vae_tiling_test.cpp, tests/backbones/opensora/vae*_test.cpp).
#include "vidprobe/nn/spatial_tiling.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.h"

namespace vidprobe::nn {
namespace {

// Tiles that keep exactly their stride and blend nothing stitch the identity back together,
// whatever the last (short) tile's size.
TEST(SpatialTiling, UnblendedTilesKeepingTheirStrideStitchTheInput) {
  const auto x = torch::arange(2 * 7 * 11, torch::kFloat32).reshape({2, 7, 11});
  const SpatialTiling tiling{.height = {.tile = 4, .stride = 3, .blend = 0, .keep = 3},
                             .width = {.tile = 5, .stride = 4, .blend = 0, .keep = 4}};
  int tiles = 0;
  const auto y = tiled_spatial(x, tiling, [&](const torch::Tensor& t) {
    ++tiles;
    return t.clone();
  });
  EXPECT_EQ(tiles, 3 * 3);
  EXPECT_TRUE(torch::equal(y, x));
}

// The blend is a linear fade from the previous tile's last rows (weight 1 - y / extent).
TEST(SpatialTiling, BlendFadesFromThePreviousTile) {
  const auto a = torch::full({1, 4, 2}, 10.0);
  auto b = torch::zeros({1, 4, 2});
  blend_tiles(a, b, 2, -2);
  EXPECT_TRUE(torch::allclose(b.select(-1, 0), torch::tensor({{10.0f, 5.0f, 0.0f, 0.0f}})));
}

// diffusers' enable_tiling() at 480 x 720 (tiles 240 x 360 pixels, 30 x 45 latents, overlaps 1/6
// and 1/5): encode tiles start every 200 rows and 288 columns, blend 5 and 9 latents, keep 25
// and 36; decoding swaps the units (latent tiles every 25 and 36, blend 40 and 72 pixels).
TEST(SpatialTiling, OverlappingAxisIsDiffusersTileArithmetic) {
  const auto rows = overlapping_tile_axis(240, 30, 1.0 / 6);
  EXPECT_EQ(rows.tile, 240);
  EXPECT_EQ(rows.stride, 200);
  EXPECT_EQ(rows.blend, 5);
  EXPECT_EQ(rows.keep, 25);
  const auto columns = overlapping_tile_axis(360, 45, 1.0 / 5);
  EXPECT_EQ(columns.stride, 288);
  EXPECT_EQ(columns.blend, 9);
  EXPECT_EQ(columns.keep, 36);
  const auto decode_rows = overlapping_tile_axis(30, 240, 1.0 / 6);
  EXPECT_EQ(decode_rows.tile, 30);
  EXPECT_EQ(decode_rows.stride, 25);
  EXPECT_EQ(decode_rows.blend, 40);
  EXPECT_EQ(decode_rows.keep, 200);
}

TEST(SpatialTiling, RefusesAStrideThatNeverAdvances) {
  const SpatialTiling tiling{.height = {.tile = 4, .stride = 0, .blend = 0, .keep = 4},
                             .width = {.tile = 4, .stride = 4, .blend = 0, .keep = 4}};
  const auto message = test_support::error_message([&] {
    tiled_spatial(torch::zeros({8, 8}), tiling, [](const torch::Tensor& t) { return t; });
  });
  EXPECT_NE(message.find("must be positive"), std::string::npos) << message;
}

}  // namespace
}  // namespace vidprobe::nn
