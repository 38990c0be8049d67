// The radar view (axes normalised so outward is better, the paper's rows dashed) and the training
// curves read from a run's log.
#include "vidprobe/report/figures.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/report/svg_chart.h"

namespace vidprobe::report {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(Figures, RadarAxesMapTheBestRunOutward) {
  const auto lower = normalize_for_radar({0.2, 0.4, NAN, 0.3}, false);
  EXPECT_DOUBLE_EQ(lower[0], 1.0);
  EXPECT_DOUBLE_EQ(lower[1], 0.0);
  EXPECT_TRUE(std::isnan(lower[2]));
  EXPECT_DOUBLE_EQ(lower[3], 0.5);
  const auto higher = normalize_for_radar({0.2, 0.4}, true);
  EXPECT_DOUBLE_EQ(higher[0], 0.0);
  EXPECT_DOUBLE_EQ(higher[1], 1.0);
  EXPECT_EQ(normalize_for_radar({0.7, 0.7}, true), (std::vector<double>{0.5, 0.5}));
  EXPECT_THAT(test_support::error_message([] {
                svg_radar_chart("t", {"a", "b"}, {{"run", {0.5}, "#000"}});
              }),
              HasSubstr("series 'run' has 1 values for 2 axes"));
}

RunResult run(const std::string& label, double points_err, double auc30, bool paper) {
  RunResult r;
  r.label = label;
  r.dataset = "co3d";
  r.metrics = {{"points.err", points_err}, {"camera.auc30", auc30}};
  r.baseline = {{"points.err", 0.9}, {"camera.auc30", 0.05}};
  if (paper) {
    r.metrics.update({{"vidfm3d.pmap_mse_aligned", 0.2},
                      {"vidfm3d.loss_depth", 0.1},
                      {"vidfm3d.Auc_5", 0.3},
                      {"vidfm3d.Auc_30", 0.6}});
    r.paper_comparable = true;
    r.backbone = "wan2.1-t2v-14b";
    r.dataset_kind = "co3d";
  }
  return r;
}

TEST(Figures, RadarSectionDrawsRunsTheConstantPredictorAndThePapersRows) {
  const std::vector<RunResult> runs = {run("wan", 0.3, 0.6, true), run("dino", 0.5, 0.4, false)};
  const auto html = html_radar_section(runs, "co3d");
  // vidprobe's metrics: two runs + the constant predictor; the paper's: our run + its row.
  EXPECT_EQ(count(html, "class='radar-series'"), 5u);
  EXPECT_THAT(html, HasSubstr("constant predictor"));
  EXPECT_THAT(html, HasSubstr("WAN2.1-14B, published"));
  EXPECT_EQ(count(html, "stroke-dasharray='6,4'"), 2u);
  auto alone = runs[1];
  alone.baseline = nlohmann::json::object();
  EXPECT_EQ(html_radar_section({alone}, "co3d"), "")
      << "one polygon (no other run, no constant predictor) compares nothing";
}

TEST(Figures, TrainingCurvesComeFromTheRunsLog) {
  const auto root = fs::temp_directory_path() / ("vidprobe_curves_" + std::to_string(::getpid()));
  fs::create_directories(root / "eval");
  EXPECT_EQ(html_training_curves(root / "eval"), "");
  write_file_atomically(root / "train_log.jsonl",
                        "{\"step\": 1, \"loss\": 2.0, \"point\": 1.0, \"depth\": 0.6, "
                        "\"camera\": 0.4, \"depth_conf\": 0.3, \"lr\": 0.001}\n"
                        "{\"step\": 2, \"loss\": 1.0, \"point\": 0.5, \"depth\": 0.3, "
                        "\"camera\": 0.2, \"depth_conf\": 0.1, \"lr\": 0.002, "
                        "\"val_loss\": 1.5, \"val.Auc_30\": 0.2}\n");
  const auto html = html_training_curves(root / "eval");
  // loss, point, depth, camera, val_loss; val.Auc_30; lr (the terms' parts are left out)
  EXPECT_EQ(count(html, "class='line-series'"), 7u);
  EXPECT_THAT(html, Not(HasSubstr("depth_conf")));
  EXPECT_THAT(html, HasSubstr("losses (log scale)"));
  EXPECT_THAT(html, HasSubstr("val.Auc_30"));
  write_file_atomically(root / "train_log.jsonl", "{\"step\": 1}\n{broken\n");
  EXPECT_THAT(test_support::error_message([&] { html_training_curves(root / "eval"); }),
              HasSubstr("train_log.jsonl line 2"));
  fs::remove_all(root);
}

TEST(Figures, LineChartsSkipNonFiniteAndNonPositiveOnLogScales) {
  const auto svg = svg_line_chart("t", "step", {{"a", {1, 2, 3}, {1.0, NAN, 0.0}, "#000"}}, true);
  EXPECT_THAT(svg, Not(HasSubstr("(log scale)")));  // a zero rules the log scale out
  EXPECT_EQ(svg_line_chart("t", "step", {{"a", {1}, {NAN}, "#000"}}), "");
}

}  // namespace
}  // namespace vidprobe::report
