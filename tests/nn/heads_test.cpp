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

// The reference's order, written out: units, then resize, then out_conv.
torch::Tensor fusion_in_reference_order(FusionBlock& block, const torch::Tensor& coarse,
                                        const torch::Tensor& skip, std::vector<int64_t> size) {
  auto out = block->unit2(coarse + block->unit1(skip));
  namespace F = torch::nn::functional;
  out = F::interpolate(
      out, F::InterpolateFuncOptions().size(size).mode(torch::kBilinear).align_corners(true));
  return block->out_conv(out);
}

TEST(FusionBlock, ConvolvingOnTheSmallerSideOfTheResizeMatchesTheReferenceOrder) {
  torch::manual_seed(3);
  FusionBlock block(8, /*has_residual=*/true);
  // Enlarged (x2 and an uneven size: out_conv before the resize) and shrunk (after it).
  for (const auto& size : std::vector<std::vector<int64_t>>{{10, 14}, {13, 17}, {3, 4}}) {
    SCOPED_TRACE(size[0]);
    const auto coarse = torch::randn({2, 8, 5, 7}, torch::requires_grad());
    const auto skip = torch::randn({2, 8, 5, 7}, torch::requires_grad());
    const auto upstream = torch::randn({2, 8, size[0], size[1]});
    const auto ours = block(coarse, skip, size);
    const auto grads_ours = torch::autograd::grad(
        {ours}, {coarse, skip, block->out_conv->weight, block->out_conv->bias}, {upstream});
    const auto reference = fusion_in_reference_order(block, coarse, skip, size);
    const auto grads_reference = torch::autograd::grad(
        {reference}, {coarse, skip, block->out_conv->weight, block->out_conv->bias}, {upstream});
    EXPECT_TRUE(torch::allclose(ours, reference, 1e-5, 1e-5));
    for (std::size_t i = 0; i < grads_ours.size(); ++i)
      EXPECT_TRUE(torch::allclose(grads_ours[i], grads_reference[i], 1e-4, 1e-4)) << i;
    // The two orders round differently: not the same expression evaluated twice.
    // The two orders round differently when out_conv moves; shrunk, it stays after the resize.
    EXPECT_EQ(torch::equal(ours, reference), size[0] < 5);
  }
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
