// The report reads what `vidprobe eval` writes (metrics.json with "run" as the run directory, a
// "baseline" block and string-valued settings) and puts probe and baseline rows side by side.
#include "vidprobe/report/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"

namespace vidprobe::report {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path temp_dir(const std::string& name) {
  auto dir =
      fs::temp_directory_path() / ("vidprobe_report_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_eval(const fs::path& dir, double points_err, double baseline_points_err) {
  fs::create_directories(dir);
  const nlohmann::json metrics = {
      {"run", "/runs/objects/pixels"},
      {"features_dir", "/feats/test"},
      {"depth_alignment", "median"},
      {"num_clips", 12},
      {"points.err", points_err},
      {"depth.abs_rel", 0.21},
      {"camera.auc30", 0.4},
      {"baseline", {{"points.err", baseline_points_err}, {"depth.abs_rel", 0.25}}}};
  write_file_atomically(dir / "metrics.json", metrics.dump());
}

TEST(Report, ReadsTheEvaluatorsMetricsAndShowsTheBaseline) {
  const auto dir = temp_dir("evaluator");
  write_eval(dir / "eval", 0.5123, 0.6097);
  auto run = load_run(dir / "eval");
  EXPECT_DOUBLE_EQ(run.metrics.at("points.err").get<double>(), 0.5123);
  EXPECT_DOUBLE_EQ(run.baseline.at("points.err").get<double>(), 0.6097);
  EXPECT_FALSE(run.metrics.contains("depth_alignment"));  // settings are not table columns
  EXPECT_EQ(run.label, "eval");
  run.dataset = "objects";
  run.label = "pixels";
  const auto table = markdown_table({run}, true);
  EXPECT_THAT(table, HasSubstr("| objects | pixels | **0.512** |"));
  EXPECT_THAT(table, HasSubstr("*constant (mean GT) predictor* | *0.610* |"));

  write_report({run}, dir / "report", {});
  EXPECT_TRUE(fs::exists(dir / "report" / "index.html"));
  EXPECT_THAT(read_file(dir / "report" / "metrics.md"), HasSubstr("pixels"));
  EXPECT_THAT(read_file(dir / "report" / "metrics.csv"), HasSubstr("objects"));
  fs::remove_all(dir);
}

TEST(Report, MissingOrMalformedMetricsNameTheFile) {
  const auto dir = temp_dir("bad");
  try {
    load_run(dir / "nowhere");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("nowhere"));
  }
  fs::create_directories(dir / "broken");
  write_file_atomically(dir / "broken" / "metrics.json", "{not json");
  try {
    load_run(dir / "broken");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "broken" / "metrics.json").string()));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::report
