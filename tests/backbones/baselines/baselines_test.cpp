#include "vidprobe/backbones/baselines/baselines.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones {
namespace {

TEST(Registry, KnowsBuiltInsAndNamesTheUnknown) {
  EXPECT_EQ(find_backbone("pixels").family, "pixels");
  EXPECT_FALSE(find_backbone("random-vit").needs_weights);
  try {
    find_backbone("dinov9");
    FAIL();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'dinov9'"), std::string::npos);
    EXPECT_NE(message.find("pixels"), std::string::npos);
  }
}

TEST(Pixels, FeaturesAreTheNormalisedPatches) {
  auto backbone = create_backbone("pixels", {});
  const auto spec = backbone->input_spec();
  torch::manual_seed(0);
  auto clip = torch::rand({2, 3, 16, 24});
  auto maps = backbone->extract(clip, backbone->default_point());
  ASSERT_EQ(maps.features.sizes(), (std::vector<int64_t>{2, 3 * 64, 2, 3}));
  // Channel c * 64 + dy * 8 + dx of grid cell (gy, gx) is pixel (8 gy + dy, 8 gx + dx), channel c.
  const int t = 1, c = 2, dy = 5, dx = 3, gy = 1, gx = 2;
  const float expected =
      (clip[t][c][8 * gy + dy][8 * gx + dx].item<float>() - spec.mean[c]) / spec.std[c];
  EXPECT_NEAR(maps.features[t][c * 64 + dy * 8 + dx][gy][gx].item<float>(), expected, 1e-5);
  EXPECT_EQ(maps.native_grid, (std::vector<int64_t>{2, 2, 3}));
}

TEST(Pixels, RejectsSizesThatAreNotPatchMultiples) {
  auto backbone = create_backbone("pixels", {});
  EXPECT_THROW(backbone->extract(torch::rand({1, 3, 15, 16}), backbone->default_point()), Error);
  EXPECT_THROW(backbone->extract(torch::rand({1, 3, 16, 16}), ExtractionPoint{3, std::nullopt, 0}),
               Error);
}

TEST(RandomViT, DeterministicPerSeedAndPerFrame) {
  BackboneOptions options;
  options.seed = 4;
  auto a = create_backbone("random-vit", options);
  auto b = create_backbone("random-vit", options);
  torch::manual_seed(1);
  auto clip = torch::rand({3, 3, 32, 32});
  auto fa = a->extract(clip, a->default_point()).features;
  auto fb = b->extract(clip, b->default_point()).features;
  ASSERT_EQ(fa.sizes(), (std::vector<int64_t>{3, a->feature_dim(), 4, 4}));
  EXPECT_TRUE(torch::allclose(fa, fb));
  // An image model: a frame's features do not depend on the other frames.
  auto single = a->extract(clip.slice(0, 1, 2), a->default_point()).features;
  EXPECT_TRUE(torch::allclose(single[0], fa[1], 1e-4, 1e-5));
  // Different layers give different features; a layer outside the model is an error naming it.
  ExtractionPoint first;
  first.layer = 0;
  EXPECT_FALSE(torch::allclose(a->extract(clip, first).features, fa));
  ExtractionPoint beyond;
  beyond.layer = a->num_layers();
  try {
    a->extract(clip, beyond);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(a->num_layers())), std::string::npos);
  }
  options.seed = 5;
  auto c = create_backbone("random-vit", options);
  EXPECT_FALSE(torch::allclose(c->extract(clip, c->default_point()).features, fa));
}

TEST(ViT, PositionEmbeddingInterpolatesToOtherGrids) {
  auto backbone = create_backbone("random-vit", {});
  auto maps = backbone->extract(torch::rand({1, 3, 48, 80}), backbone->default_point());
  EXPECT_EQ(maps.features.sizes(), (std::vector<int64_t>{1, backbone->feature_dim(), 6, 10}));
  EXPECT_TRUE(torch::isfinite(maps.features).all().item<bool>());
}

}  // namespace
}  // namespace vidprobe::backbones
