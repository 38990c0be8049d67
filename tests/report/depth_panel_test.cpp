// The report's depth panels: column titles above the evaluator's picture and numbers (round ticks,
// units) under its colour bars, from the layout the evaluator writes next to it.
#include "vidprobe/report/depth_panel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"

namespace vidprobe::report {
namespace {
namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ColourBarTicks, RoundNumbersInsideTheRangeAndAlwaysBothEndsAtLeast) {
  EXPECT_THAT(colour_bar_ticks(0, 30, false, 4), ElementsAre(0, 10, 20, 30));
  const auto depth = colour_bar_ticks(1.04, 2.96, false, 8);
  EXPECT_THAT(depth, ElementsAre(1.5, 2.0, 2.5));
  // Too narrow a range for a round step inside it: the ends.
  EXPECT_THAT(colour_bar_ticks(1.01, 1.09, false, 2), ElementsAre(1.01, 1.09));
  EXPECT_THAT(colour_bar_ticks(0.5, 0.5, false, 4), ElementsAre(0.5));
  // Log bars: 1-2-5 per decade, only the decades when those are too many.
  EXPECT_THAT(colour_bar_ticks(0.9, 60, true, 8), ElementsAre(1, 2, 5, 10, 20, 50));
  EXPECT_THAT(colour_bar_ticks(0.9, 600, true, 4), ElementsAre(1, 10, 100));
  EXPECT_TRUE(colour_bar_ticks(NAN, 1, false, 4).empty());
}

TEST(DepthPanel, TitlesTheColumnsAndNumbersTheColourBarsWithUnits) {
  const auto dir = test_support::fresh_temp_dir("depth_panel");
  const auto png = dir / "clip_3_depth.png";
  write_file_atomically(png, "not read");
  EXPECT_THAT(html_depth_panel(png, "assets/p.png"), Not(HasSubstr("colour-bars")));

  // 4 columns of 64 px (input, GT, prediction, error) with 2 px gaps.
  const nlohmann::json layout = {
      {"width", 262},
      {"height", 140},
      {"tile_width", 64},
      {"tile_height", 48},
      {"gap", 2},
      {"frames", 2},
      {"bar_height", 5},
      {"columns", {"input", "GT depth", "predicted depth", "relative error"}},
      {"bars",
       {{{"label", "depth"},
         {"unit", "dataset units"},
         {"first_column", 1},
         {"last_column", 2},
         {"lo", 1.04},
         {"hi", 2.96},
         {"log", false}},
        {{"label", "error"},
         {"unit", "% of GT depth"},
         {"first_column", 3},
         {"last_column", 3},
         {"lo", 0},
         {"hi", 30},
         {"log", false}}}}};
  write_file_atomically(dir / "clip_3_depth.json", layout.dump());
  const auto html = html_depth_panel(png, "assets/p.png");
  EXPECT_THAT(html, HasSubstr("style='width:524px'"));  // twice the panel's size
  EXPECT_THAT(html, HasSubstr(">predicted depth</text>"));
  std::vector<std::string> ticks;
  for (auto at = html.find("class='tick'"); at != std::string::npos;
       at = html.find("class='tick'", at + 1)) {
    const auto text = html.find('>', at) + 1;
    ticks.push_back(html.substr(text, html.find('<', text) - text));
  }
  EXPECT_THAT(ticks, ElementsAre("1.5", "2", "2.5", "0", "10", "20", "30"));
  EXPECT_THAT(html, HasSubstr(">dataset units</text>"));
  EXPECT_THAT(html, HasSubstr(">% of GT depth</text>"));

  write_file_atomically(dir / "clip_3_depth.json", R"({"width": 262, "tile_width": 64})");
  EXPECT_THAT(test_support::error_message([&] { html_depth_panel(png, "p.png"); }),
              HasSubstr("clip_3_depth.json: missing key 'gap'"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::report
