// The evaluator's per-clip depth panel: input, GT and predicted depth on one scale for the clip,
// the relative error, the confidence, and under them their colour bars, described by the layout
// that `vidprobe report` numbers the bars from.
#include "vidprobe/probe/visualize.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace vidprobe::probe {
namespace {

TEST(Visualize, DepthPanelShowsErrorConfidenceAndColourBarsOnOneScalePerClip) {
  const int64_t S = 2, H = 12, W = 16;
  const auto near = torch::linspace(1, 3, H * W).reshape({H, W});
  const auto gt = torch::stack({near, 2 * near});  // frame 1 twice as far as frame 0
  auto pred = gt.clone();
  pred[1].mul_(2.0);  // frame 1: relative error 1 everywhere
  const auto valid = torch::ones({S, H, W}, torch::kBool);
  const auto rgb = torch::full({S, 3, H, W}, 128, torch::kUInt8);
  const auto confidence = torch::rand({S, H, W}) + 1;
  const auto panel = depth_comparison_panel(rgb, gt, pred, valid, confidence);
  const auto& image = panel.image;
  const int gap = 2, bar = 4;
  EXPECT_EQ(image.width, 5 * W + 4 * gap);
  EXPECT_EQ(image.height, S * (H + gap) + bar);
  const auto pixel = [&](int x, int y) {
    return std::array<std::uint8_t, 3>{image.at(x, y, 0), image.at(x, y, 1), image.at(x, y, 2)};
  };
  const auto column_x = [&](int column) { return static_cast<int>(column * (W + gap)); };
  const int error_x = column_x(3) + W / 2;
  EXPECT_EQ(pixel(error_x, H / 2), viridis(0.0));  // exact frame: no error
  EXPECT_EQ(pixel(error_x, static_cast<int>(H + gap + H / 2)), viridis(1.0));  // clipped at top
  // The GT and prediction columns of the exact frame are identical (one shared scale).
  for (int x = 0; x < W; ++x) EXPECT_EQ(pixel(column_x(1) + x, 3), pixel(column_x(2) + x, 3));
  // One scale for the whole clip: the nearer frame is darker than the farther one.
  EXPECT_EQ(pixel(column_x(1), 0), viridis(0.0));
  EXPECT_NE(pixel(column_x(1), static_cast<int>(H + gap)), viridis(0.0));

  // Colour bars: none under the input, one spanning GT and prediction, one under the error.
  const int bar_y = image.height - 1;
  const std::array<std::uint8_t, 3> white{255, 255, 255};
  EXPECT_EQ(pixel(0, bar_y), white);
  EXPECT_EQ(pixel(column_x(1), bar_y), viridis(0.0));
  EXPECT_EQ(pixel(column_x(2) + W - 1, bar_y), viridis(1.0));
  EXPECT_EQ(pixel(column_x(3), bar_y), viridis(0.0));
  EXPECT_EQ(pixel(column_x(3) + W - 1, bar_y), viridis(1.0));

  const auto layout = panel.layout();
  EXPECT_EQ(layout["columns"].size(), 5u);
  EXPECT_EQ(layout["columns"][0], "input");
  EXPECT_EQ(layout["tile_width"], W);
  EXPECT_EQ(layout["frames"], S);
  ASSERT_EQ(layout["bars"].size(), 3u);
  const auto& depth = layout["bars"][0];
  EXPECT_EQ(depth["first_column"], 1);
  EXPECT_EQ(depth["last_column"], 2);
  // The clip's 2nd and 98th percentiles of the GT (1..6 over both frames).
  const auto all = gt.flatten().to(torch::kFloat64);
  EXPECT_NEAR(depth["lo"].get<double>(), torch::quantile(all, 0.02).item<double>(), 1e-9);
  EXPECT_NEAR(depth["hi"].get<double>(), torch::quantile(all, 0.98).item<double>(), 1e-9);
  EXPECT_EQ(layout["bars"][1]["hi"], 30.0);
  EXPECT_EQ(layout["bars"][1]["unit"], "% of GT depth");
  EXPECT_TRUE(layout["bars"][2]["log"].get<bool>());
  EXPECT_GE(layout["bars"][2]["lo"].get<double>(), 1.0);

  const auto without = depth_comparison_panel(torch::Tensor(), gt, pred, valid);
  EXPECT_EQ(without.image.width, 3 * W + 2 * gap);
  EXPECT_EQ(without.layout()["bars"].size(), 2u);
  EXPECT_EQ(without.layout()["bars"][0]["first_column"], 0);
}

}  // namespace
}  // namespace vidprobe::probe
