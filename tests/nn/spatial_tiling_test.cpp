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
