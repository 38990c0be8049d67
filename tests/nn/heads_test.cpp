#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "vidprobe/nn/dpt_head.h"
#include "vidprobe/nn/head_activation.h"
#include "vidprobe/nn/head_names.h"

namespace vidprobe::nn {
namespace {

TEST(HeadActivation, MatchesTheFormulas) {
  const auto y = torch::tensor({-2.0, 0.0, 0.5});
  const auto expected = torch::tensor({-(std::exp(2.0) - 1), 0.0, std::exp(0.5) - 1});
  EXPECT_TRUE(torch::allclose(inverse_log_transform(y), expected.to(torch::kFloat32)));
  const auto raw = torch::tensor({0.1, -0.2, 0.3, 0.0, 0.0, 0.0, 0.0, -1.0, 2.0}).view({1, 9});
  const auto pose = activate_pose_encoding(raw);
  EXPECT_FLOAT_EQ(pose[0][7].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(pose[0][8].item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(pose[0][0].item<float>(), 0.1f);
  auto [values, conf] = activate_dense_head(torch::zeros({1, 2, 1, 1}), "exp", "expp1");
  EXPECT_FLOAT_EQ(values.item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(conf.item<float>(), 2.0f);
}

TEST(DptHead, LayerIndicesSpreadOverTheBlocks) {
  EXPECT_EQ(dpt_layer_indices(4), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(dpt_layer_indices(24), (std::vector<int>{0, 8, 15, 23}));
  EXPECT_EQ(dpt_layer_indices(1), (std::vector<int>{0, 0, 0, 0}));
}

TEST(HeadNames, VggtReferenceKeysMapOntoTheHeadModules) {
  EXPECT_EQ(vggt_head_module_name("camera_head.poseLN_modulation.1.weight"),
            "camera_head.modulation.weight");
  EXPECT_EQ(vggt_head_module_name("depth_head.scratch.refinenet4.resConfUnit2.conv1.bias"),
            "depth_head.refine.3.unit2.conv1.bias");
  EXPECT_EQ(vggt_head_module_name("point_head.scratch.layer1_rn.weight"),
            "point_head.level_convs.0.weight");
  EXPECT_EQ(vggt_head_module_name("aggregator.camera_token"), "aggregator.camera_token");
}

}  // namespace
}  // namespace vidprobe::nn
