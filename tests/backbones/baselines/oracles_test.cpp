#include "vidprobe/backbones/baselines/oracles.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.h"
#include "vidprobe/backbones/registry.h"

namespace vidprobe::backbones {
namespace {

using test_support::error_message;

// Two 4 x 4 frames looking down +z at a wall 2 units away (frame 1 at 3 units: the camera stepped
// back by 1 along its optical axis and then 0.5 to the right), focal 2, principal point (1.5, 1.5).
ClipTruth wall_clip() {
  ClipTruth truth;
  truth.depth = torch::stack({torch::full({4, 4}, 2.0f), torch::full({4, 4}, 3.0f)});
  truth.valid = torch::ones({2, 4, 4}, torch::kBool);
  truth.valid[1][0][0] = false;
  const auto K = torch::tensor({{2.0f, 0.0f, 1.5f}, {0.0f, 2.0f, 1.5f}, {0.0f, 0.0f, 1.0f}});
  truth.intrinsics = torch::stack({K, K});
  // Camera-from-world [I | -c]: frame 0 at the origin, frame 1 at c = (0.5, 0, -1).
  auto e0 = torch::cat({torch::eye(3), torch::zeros({3, 1})}, 1);
  auto e1 = torch::cat({torch::eye(3), torch::tensor({{-0.5f}, {0.0f}, {1.0f}})}, 1);
  truth.extrinsics = torch::stack({e0, e1});
  return truth;
}

TEST(Oracle, PixelValuesAreDepthRaysAndTheFirstCamerasPoints) {
  const auto values = oracle_pixel_values(wall_clip(), /*world_points=*/true);
  ASSERT_EQ(values.sizes(), (std::vector<int64_t>{2, 7, 4, 4}));
  // Frame 1, pixel (u=3, v=1): ray ((3 - 1.5) / 2, (1 - 1.5) / 2) = (0.75, -0.25), depth 3 ->
  // camera point (2.25, -0.75, 3) -> world (2.75, -0.75, 2): the same wall frame 0 sees at z = 2.
  const auto px = values.select(0, 1).select(1, 1).select(1, 3);
  const std::vector<float> expected{3.0f, 0.75f, -0.25f, 1.0f, 2.75f, -0.75f, 2.0f};
  for (int k = 0; k < 7; ++k) EXPECT_NEAR(px[k].item<float>(), expected[k], 1e-6) << k;
  // An invalid pixel carries zeros only.
  EXPECT_EQ(values[1].select(1, 0).select(1, 0).abs().sum().item<float>(), 0.0f);
}

TEST(Oracle, DepthOracleHoldsNothingAcrossFrames) {
  const auto values = oracle_pixel_values(wall_clip(), /*world_points=*/false);
  ASSERT_EQ(values.size(1), 4);
  // Seen alone, frame 1 is its own first frame: its points are its camera-frame points.
  const auto alone = oracle_pixel_values(wall_clip().select(torch::tensor({1})), true);
  const auto px = alone[0].select(1, 1).select(1, 3);
  EXPECT_NEAR(px[4].item<float>(), 2.25f, 1e-6);
  EXPECT_NEAR(px[6].item<float>(), 3.0f, 1e-6);
}

TEST(Oracle, PatchValuesBecomeTheTokensChannels) {
  BackboneOptions options;
  options.extra = {{"size", "4"}, {"patch", "2"}};
  auto oracle = create_backbone("oracle-points", options);
  EXPECT_TRUE(oracle->reads_truth());
  EXPECT_EQ(oracle->feature_dim(), 7 * 2 * 2);
  const auto truth = wall_clip();
  const auto maps =
      oracle->extract_from_truth(torch::zeros({2, 3, 4, 4}), truth, {oracle->default_point()});
  ASSERT_EQ(maps.size(), 1u);
  ASSERT_EQ(maps[0].features.sizes(), (std::vector<int64_t>{2, 28, 2, 2}));
  // Channel k * 4 + dy * 2 + dx of cell (gy, gx) is value k of pixel (2 gy + dy, 2 gx + dx).
  const auto values = oracle_pixel_values(truth, true);
  const int t = 1, k = 4, dy = 1, dx = 1, gy = 0, gx = 1;
  EXPECT_FLOAT_EQ(maps[0].features[t][k * 4 + dy * 2 + dx][gy][gx].item<float>(),
                  values[t][k][2 * gy + dy][2 * gx + dx].item<float>());
}

TEST(Oracle, NoiseIsSeededByTheClipAndScaledByEachValuesRms) {
  BackboneOptions options;
  options.extra = {{"size", "4"}, {"patch", "2"}, {"noise", "0.5"}};
  auto noisy = create_backbone("oracle-depth", options);
  options.extra.erase("noise");
  auto clean = create_backbone("oracle-depth", options);
  const auto truth = wall_clip();
  const auto point = clean->default_point();
  const auto a = noisy->extract_from_truth({}, truth, {point})[0].features;
  const auto b = noisy->extract_from_truth({}, truth, {point})[0].features;
  const auto c = clean->extract_from_truth({}, truth, {point})[0].features;
  EXPECT_TRUE(torch::equal(a, b));  // resumed and sharded runs draw the same noise
  EXPECT_FALSE(torch::allclose(a, c));
  // Depth values (channels 0..3) have an RMS of about 2.5; the noise on them is half of it.
  const double depth_noise = (a - c).slice(1, 0, 4).std().item<double>();
  EXPECT_GT(depth_noise, 0.5 * 2.5 * 0.5);
  EXPECT_LT(depth_noise, 0.5 * 2.5 * 1.6);
}

TEST(Oracle, MixingToMoreChannelsKeepsEveryValue) {
  BackboneOptions options;
  options.extra = {{"size", "4"}, {"patch", "2"}, {"channels", "40"}};
  auto mixed = create_backbone("oracle-depth", options);
  options.extra.erase("channels");
  auto raw = create_backbone("oracle-depth", options);
  EXPECT_EQ(mixed->feature_dim(), 40);
  const auto truth = wall_clip();
  const auto a = mixed->extract_from_truth({}, truth, {mixed->default_point()})[0].features;
  const auto b = raw->extract_from_truth({}, truth, {raw->default_point()})[0].features;
  // An isometry per token: the norms over channels are unchanged.
  EXPECT_TRUE(torch::allclose(a.norm(2, 1), b.norm(2, 1), 1e-5, 1e-5));
}

TEST(Oracle, RefusesBadOptionsAndPixelOnlyExtraction) {
  BackboneOptions options;
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"patch", "0"}, {"size", "30"}, {"noise", "-1"}, {"channels", "-3"}, {"size", "8x"}}) {
    options.extra = {{key, value}};
    const auto message = error_message([&] { create_backbone("oracle-points", options); });
    EXPECT_NE(message.find("--backbone-opt " + key), std::string::npos) << message;
  }
  options.extra = {{"depth_scale", "2"}};
  EXPECT_NE(error_message([&] { create_backbone("oracle-depth", options); }).find("depth_scale"),
            std::string::npos);
  auto oracle = create_backbone("oracle-depth", {});
  EXPECT_NE(error_message([&] {
              oracle->extract(torch::zeros({1, 3, 64, 64}), oracle->default_point());
            }).find("ground truth"),
            std::string::npos);
  EXPECT_TRUE(find_backbone("oracle-points").calibration);
  EXPECT_FALSE(find_backbone("random-vit").calibration);
}

}  // namespace
}  // namespace vidprobe::backbones
