// The evaluator's per-clip depth panel: input, GT and predicted depth on one scale, the relative
// error, the confidence, and the colour bar they share.
#include "vidprobe/probe/visualize.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace vidprobe::probe {
namespace {

TEST(Visualize, DepthPanelShowsErrorConfidenceAndAColourBar) {
  const int64_t S = 2, H = 12, W = 16;
  const auto gt = torch::linspace(1, 3, H * W).reshape({1, H, W}).repeat({S, 1, 1});
  auto pred = gt.clone();
  pred[1].mul_(2.0);  // frame 1: relative error 1 everywhere
  const auto valid = torch::ones({S, H, W}, torch::kBool);
  const auto rgb = torch::full({S, 3, H, W}, 128, torch::kUInt8);
  const auto confidence = torch::rand({S, H, W}) + 1;
  const auto panel = depth_comparison_panel(rgb, gt, pred, valid, confidence);
  const int gap = 2, bar = 4;
  EXPECT_EQ(panel.width, 5 * W + 4 * gap);
  EXPECT_EQ(panel.height, S * (H + gap) + bar);
  const auto pixel = [&](int x, int y) {
    return std::array<std::uint8_t, 3>{panel.at(x, y, 0), panel.at(x, y, 1), panel.at(x, y, 2)};
  };
  const int error_x = static_cast<int>(3 * (W + gap) + W / 2);
  EXPECT_EQ(pixel(error_x, H / 2), viridis(0.0));  // exact frame: no error
  EXPECT_EQ(pixel(error_x, static_cast<int>(H + gap + H / 2)), viridis(1.0));  // clipped at top
  const int bar_y = panel.height - 1;
  EXPECT_EQ(pixel(0, bar_y), viridis(0.0));
  EXPECT_EQ(pixel(panel.width - 1, bar_y), viridis(1.0));
  // The GT and prediction columns of the exact frame are identical (one shared scale).
  for (int x = 0; x < W; ++x)
    EXPECT_EQ(pixel(static_cast<int>(W + gap) + x, 3),
              pixel(static_cast<int>(2 * (W + gap)) + x, 3));

  const auto without = depth_comparison_panel(torch::Tensor(), gt, pred, valid);
  EXPECT_EQ(without.width, 3 * W + 2 * gap);
}

}  // namespace
}  // namespace vidprobe::probe
