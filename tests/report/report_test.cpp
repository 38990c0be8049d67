// The report reads what `vidprobe eval` writes (metrics.json with "run" as the run directory, a
// "baseline" block and string-valued settings) and puts probe and baseline rows side by side.
#include "vidprobe/report/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"

namespace vidprobe::report {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path temp_dir(const std::string& name) {
  return test_support::fresh_temp_dir("report_" + name);
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

// An oracle's features (a calibration backbone, named in the feature manifest) set the ceiling;
// the constant predictor is the floor; runs are scored between them and charts mark both.
TEST(Report, OraclesSetTheCeilingAndRunsAreScoredBetweenFloorAndCeiling) {
  const auto dir = temp_dir("calibration");
  const auto eval_of = [&](const std::string& name, const std::string& backbone,
                           const std::string& temporal, double points_err, double auc30) {
    fs::create_directories(dir / name);
    const nlohmann::json metrics = {
        {"run", {{"label", name}, {"dataset", "objects"}}},
        {"feature_manifest", {{"identity", {{"backbone", backbone}, {"temporal", temporal}}}}},
        {"points.err", points_err},
        {"depth.abs_rel", 0.1},
        {"camera.auc30", auc30},
        {"baseline", {{"points.err", 0.6}, {"depth.abs_rel", 0.3}, {"camera.auc30", 0.0}}}};
    write_file_atomically(dir / name / "metrics.json", metrics.dump());
    return load_run(dir / name);
  };
  const std::vector<RunResult> runs = {
      eval_of("vit", "random-vit", "video", 0.5, 0.1),
      eval_of("ceiling", "oracle-points", "video", 0.2, 0.5),
      eval_of("per-frame", "oracle-points", "per-frame", 0.4, 0.0)};
  EXPECT_FALSE(runs[0].calibration);
  EXPECT_TRUE(runs[1].ceiling);
  EXPECT_TRUE(runs[2].calibration);
  EXPECT_FALSE(runs[2].ceiling);  // sees frames alone: not the ceiling

  const auto points = floor_and_ceiling(runs, "objects", "points.err", false);
  EXPECT_DOUBLE_EQ(points.floor, 0.6);
  EXPECT_DOUBLE_EQ(points.ceiling, 0.2);
  EXPECT_EQ(points.ceiling_label, "ceiling");
  EXPECT_DOUBLE_EQ(awareness_score(0.5, points), 0.25);
  EXPECT_TRUE(
      std::isnan(awareness_score(0.1, floor_and_ceiling(runs, "objects", "depth.delta1", true))));

  // Oracles are never the bold "best probe"; random-vit is, although the ceiling beats it.
  EXPECT_THAT(markdown_table(runs, true), HasSubstr("| objects | vit | **0.500** |"));
  EXPECT_THAT(markdown_table(runs, true), HasSubstr("| objects | ceiling (oracle) | 0.200 |"));
  write_report(runs, dir / "report", {});
  const auto md = read_file(dir / "report" / "metrics.md");
  EXPECT_THAT(md, HasSubstr("between floor and ceiling"));
  EXPECT_THAT(md, HasSubstr("| objects | vit | 0.25 | 1.00 | 0.20 | 0.48 |"));
  const auto html = read_file(dir / "report" / "index.html");
  EXPECT_THAT(html, HasSubstr("ceiling: ceiling 0.200"));
  EXPECT_THAT(html, HasSubstr("floor: constant 0.600"));
  fs::remove_all(dir);
}

// A run of the paper's protocol on the authors' CO3Dv2 WAN2.1-14B features: the paper's metrics
// table shows it next to the paper's published row; a run of another preset gets no such row.
TEST(Report, PaperComparableRunsStandNextToThePublishedRow) {
  const auto dir = temp_dir("paper");
  nlohmann::json metrics = {
      {"num_clips", 3},
      {"points.err", 0.3},
      {"preset", "vidfm3d"},
      {"vidfm3d",
       {{"pmap_mse_aligned", 0.2911},
        {"loss_depth", 0.1523},
        {"Auc_5", 0.19},
        {"Auc_30", 0.72},
        {"paper_comparable", true}}},
      {"feature_manifest",
       {{"identity", {{"backbone", "vidfm3d:wan-14b"}, {"dataset_kind", "co3d"}}}}}};
  fs::create_directories(dir / "wan");
  write_file_atomically(dir / "wan" / "metrics.json", metrics.dump());
  metrics["vidfm3d"]["paper_comparable"] = false;
  fs::create_directories(dir / "other");
  write_file_atomically(dir / "other" / "metrics.json", metrics.dump());
  auto ours = load_run(dir / "wan");
  auto other = load_run(dir / "other");
  EXPECT_TRUE(ours.paper_comparable);
  EXPECT_EQ(ours.backbone, "vidfm3d:wan-14b");
  const auto table = paper_markdown_table({ours, other});
  EXPECT_THAT(table, HasSubstr("| wan | paper's (vidfm3d) | 0.291 | 0.152 | 0.190 | 0.720 |"));
  EXPECT_THAT(
      table,
      HasSubstr("*WAN2.1-14B, published* | paper | *0.284* | *0.151* | *0.200* | *0.736* |"));
  EXPECT_THAT(table, HasSubstr("| other | other preset |"));
  EXPECT_EQ(table.find("published", table.find("| other |")), std::string::npos);
  write_report({ours, other}, dir / "report", {});
  EXPECT_THAT(read_file(dir / "report" / "index.html"), HasSubstr("WAN2.1-14B, published"));
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

// Found by tools/hostile_campaign.py: metrics.json with num_clips -1 or "many", a metric holding
// a string or an array, or a baseline that is a number, all made a report.
TEST(Report, MetricsOfTheWrongTypeOrRangeAreRefusedNamingFileAndKey) {
  const auto dir = temp_dir("hostile");
  fs::create_directories(dir / "run");
  const auto file = dir / "run" / "metrics.json";
  const nlohmann::json good = {{"num_clips", 3},
                               {"depth.abs_rel", 0.2},
                               {"points.err", nullptr},
                               {"baseline", {{"depth.abs_rel", 0.5}}}};
  write_file_atomically(file, good.dump());
  EXPECT_NO_THROW(load_run(dir / "run"));
  const auto expect_refused = [&](const std::string& key, const nlohmann::json& value,
                                  const std::string& fragment) {
    auto metrics = good;
    metrics[key] = value;
    write_file_atomically(file, metrics.dump());
    EXPECT_THAT(test_support::error_message([&] { load_run(dir / "run"); }),
                ::testing::AllOf(HasSubstr(file.string()), HasSubstr(fragment)))
        << key << " = " << value.dump();
  };
  expect_refused("num_clips", -1, "'num_clips'");
  expect_refused("num_clips", "many", "'num_clips'");
  expect_refused("num_clips", 4294967297.5, "'num_clips'");
  expect_refused("depth.abs_rel", "x", "'depth.abs_rel'");
  expect_refused("camera.auc30", nlohmann::json::object(), "'camera.auc30'");
  expect_refused("baseline", 7, "'baseline'");
  expect_refused("baseline", {{"points.err", "x"}}, "'points.err'");
  expect_refused("run", 3, "'run'");
  expect_refused("run", {{"label", 5}}, "'label'");
  // A clip count that disagrees with the evaluator's per-clip rows beside it.
  write_file_atomically(dir / "run" / "per_clip.csv",
                        "clip_id,depth.abs_rel\na,0.1\nb,0.2\nc,0.3\n");
  write_file_atomically(file, good.dump());
  EXPECT_NO_THROW(load_run(dir / "run"));
  expect_refused("num_clips", 4294967297, "has 3 clip rows");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::report
