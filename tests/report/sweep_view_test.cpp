// The report's sweep view: heat maps with the best cell outlined and the layer curves, read from
// the sweep.json `vidprobe sweep` writes.
#include "vidprobe/report/sweep_view.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/report/report.h"

namespace vidprobe::report {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

nlohmann::json point(int layer, int timestep, double points_err, double auc30) {
  return {{"name", "L" + std::to_string(layer) + "_t" + std::to_string(timestep)},
          {"layer", layer},
          {"timestep", timestep},
          {"metrics", {{"points.err", points_err}, {"camera.auc30", auc30}}}};
}

TEST(SweepView, HeatMapsOutlineTheBestCellAndCurvesFollowTheLayers) {
  const auto dir = fs::temp_directory_path() / ("vidprobe_sweepview_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  nlohmann::json sweep = {{"backbone", "wan2.1-t2v-1.3b"},
                          {"layers", {3, 6}},
                          {"timesteps", {100, 400}},
                          {"points",
                           {point(3, 100, 0.50, 0.30), point(3, 400, 0.45, 0.35),
                            point(6, 100, 0.31, 0.62), point(6, 400, 0.40, 0.50)}}};
  write_file_atomically(dir / "sweep.json", sweep.dump());
  const auto html = html_sweep_section(dir);
  EXPECT_THAT(html, HasSubstr("Sweep: wan2.1-t2v-1.3b"));
  // Two metrics present: two heat maps, each with one outlined best cell, bold: 0.310 and 0.620.
  std::size_t best = 0;
  for (auto at = html.find("class='cell best'"); at != std::string::npos;
       at = html.find("class='cell best'", at + 1))
    ++best;
  EXPECT_EQ(best, 2u);
  EXPECT_THAT(html, HasSubstr("font-weight='bold'>0.310</text>"));
  EXPECT_THAT(html, HasSubstr("font-weight='bold'>0.620</text>"));
  EXPECT_THAT(html, HasSubstr("Point err by layer"));
  EXPECT_THAT(html, HasSubstr("t 400"));

  ReportOptions options;
  options.sweeps = {dir};
  write_report({}, dir / "report", options);
  EXPECT_THAT(read_file(dir / "report" / "index.html"), HasSubstr("class='heatmap'"));

  sweep["points"].push_back(point(9, 100, 0.1, 0.9));
  write_file_atomically(dir / "sweep.json", sweep.dump());
  EXPECT_THAT(test_support::error_message([&] { html_sweep_section(dir); }),
              HasSubstr("sweep.json': a point has layer 9, which is not in 'layers'"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::report
