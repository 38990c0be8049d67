#include "vidprobe/probe/probe_model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "probe/probe_test_util.h"

namespace vidprobe::probe {
namespace {

struct ShapeCase {
  int64_t frames, h, w, height, width;
};

class ProbeShapes : public ::testing::TestWithParam<ShapeCase> {};

TEST_P(ProbeShapes, EveryHeadHasTheRequestedShape) {
  const auto c = GetParam();
  torch::manual_seed(0);
  ProbeModel model(testing::tiny_config(), 12);
  const int64_t batch = 2;
  const auto features = torch::randn({batch, c.frames, 12, c.h, c.w}).to(torch::kFloat16);
  const auto out = model->forward(features, c.height, c.width);
  EXPECT_EQ(out.depth.sizes(), (std::vector<int64_t>{batch, c.frames, c.height, c.width}));
  EXPECT_EQ(out.depth_conf.sizes(), out.depth.sizes());
  EXPECT_EQ(out.world_points.sizes(),
            (std::vector<int64_t>{batch, c.frames, c.height, c.width, 3}));
  EXPECT_EQ(out.world_points_conf.sizes(), out.depth.sizes());
  ASSERT_EQ(out.pose_encodings.size(), 1u);
  EXPECT_EQ(out.pose_encoding().sizes(), (std::vector<int64_t>{batch, c.frames, 9}));
  // Activations: depth exp > 0, confidences expp1 > 1, field of view relu >= 0.
  EXPECT_TRUE(out.depth.gt(0).all().item<bool>());
  EXPECT_TRUE(out.depth_conf.gt(1).all().item<bool>());
  EXPECT_TRUE(out.world_points_conf.gt(1).all().item<bool>());
  EXPECT_TRUE(out.pose_encoding().slice(-1, 7, 9).ge(0).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(out.world_points).all().item<bool>());
}

INSTANTIATE_TEST_SUITE_P(Grids, ProbeShapes,
                         ::testing::Values(ShapeCase{4, 4, 4, 32, 32}, ShapeCase{2, 3, 5, 24, 40},
                                           ShapeCase{1, 2, 2, 14, 14}, ShapeCase{5, 6, 4, 45, 30}));

TEST(ProbeModel, IterativeCameraHeadReturnsEveryIteration) {
  auto config = testing::tiny_config();
  config.heads.camera.iterations = 3;
  ProbeModel model(config, 6);
  const auto out = model->forward(torch::randn({1, 3, 6, 2, 2}), 8, 8);
  EXPECT_EQ(out.pose_encodings.size(), 3u);
}

// Max |a - b| over frame `frame` of every output.
double frame_difference(const nn::GeometryPrediction& a, const nn::GeometryPrediction& b,
                        int64_t frame) {
  double diff = 0;
  auto update = [&](const torch::Tensor& x, const torch::Tensor& y) {
    diff = std::max(diff, (x.select(1, frame) - y.select(1, frame)).abs().max().item<double>());
  };
  update(a.depth, b.depth);
  update(a.depth_conf, b.depth_conf);
  update(a.world_points, b.world_points);
  update(a.world_points_conf, b.world_points_conf);
  update(a.pose_encoding(), b.pose_encoding());
  return diff;
}

TEST(ProbeModel, FrameOnlyAblationKeepsFramesIndependentGlobalAttentionDoesNot) {
  for (bool global : {false, true}) {
    auto config = testing::tiny_config();
    config.model.global_attention = global;
    torch::manual_seed(3);
    ProbeModel model(config, 8);
    // LayerScale 0.01 would make cross-frame effects tiny; scale it up so the check is sharp.
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->named_parameters())
        if (p.key().find(".gamma") != std::string::npos) p.value().fill_(1.0);
    }
    const auto features = torch::randn({1, 4, 8, 3, 3});
    auto perturbed = features.clone();
    perturbed.select(1, 2).add_(torch::randn({8, 3, 3}) * 3);
    torch::NoGradGuard no_grad;
    const auto a = model->forward(features, 12, 12);
    const auto b = model->forward(perturbed, 12, 12);
    EXPECT_GT(frame_difference(a, b, 2), 1e-3) << "the perturbed frame itself must change";
    for (int64_t frame : {0, 1, 3}) {
      if (global)
        EXPECT_GT(frame_difference(a, b, frame), 1e-4) << "frame " << frame;
      else
        EXPECT_LT(frame_difference(a, b, frame), 1e-6) << "frame " << frame;
    }
  }
}

TEST(ProbeModel, FirstFrameIsMarkedByItsOwnTokens) {
  // Identical features in every frame: outputs still differ between frame 0 and the others
  // (distinct first-frame camera/register tokens) but agree among frames 1..S-1.
  auto config = testing::tiny_config();
  torch::manual_seed(5);
  ProbeModel model(config, 8);
  {
    torch::NoGradGuard no_grad;
    model->aggregator->camera_token.normal_();
    model->aggregator->register_token.normal_();
  }
  const auto frame = torch::randn({1, 1, 8, 3, 3});
  const auto features = frame.expand({1, 3, 8, 3, 3}).contiguous();
  torch::NoGradGuard no_grad;
  const auto out = model->forward(features, 6, 6);
  const auto pose = out.pose_encoding();
  EXPECT_GT((pose[0][0] - pose[0][1]).abs().max().item<double>(), 1e-4);
  EXPECT_LT((pose[0][1] - pose[0][2]).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace vidprobe::probe
