// Compares the metrics with values computed independently in plain Python by
// tools/make_metric_fixtures.py (VGGT's formulas taken literally, Horn's method instead of
// Umeyama's SVD, brute-force neighbours), stored in tests/fixtures/metrics/metric_fixtures.json.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vidprobe/metrics/camera_metrics.h"
#include "vidprobe/metrics/depth_metrics.h"
#include "vidprobe/metrics/point_metrics.h"

namespace vidprobe::metrics {
namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json data = [] {
    const auto path =
        std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "metrics/metric_fixtures.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    return nlohmann::json::parse(in);
  }();
  return data;
}

// Nested JSON lists of numbers (or booleans) to a tensor of the given shape.
torch::Tensor tensor_of(const nlohmann::json& nested, torch::ScalarType type) {
  std::vector<double> values;
  std::vector<int64_t> shape;
  const auto walk = [&](const auto& self, const nlohmann::json& node, size_t depth) -> void {
    if (!node.is_array()) {
      values.push_back(node.is_boolean() ? (node.get<bool>() ? 1.0 : 0.0) : node.get<double>());
      return;
    }
    if (shape.size() == depth) shape.push_back(static_cast<int64_t>(node.size()));
    for (const auto& child : node) self(self, child, depth + 1);
  };
  walk(walk, nested, 0);
  return torch::tensor(values, torch::kDouble).view(shape).to(type);
}

TEST(MetricFixtures, CameraMetricsMatchVggtFormulas) {
  const auto& camera = fixture().at("camera");
  const auto pred = tensor_of(camera.at("pred_extrinsics"), torch::kDouble);
  const auto gt = tensor_of(camera.at("gt_extrinsics"), torch::kDouble);
  const auto errors = relative_pose_errors(pred, gt);
  const auto expected_rotation = tensor_of(camera.at("rotation_deg"), torch::kDouble);
  const auto expected_translation = tensor_of(camera.at("translation_deg"), torch::kDouble);
  EXPECT_LT((errors.rotation_deg - expected_rotation).abs().max().item<double>(), 1e-7);
  EXPECT_LT((errors.translation_deg - expected_translation).abs().max().item<double>(), 1e-7);
  const auto scores = camera_metrics(pred, gt);
  for (const auto& [key, value] : camera.at("metrics").items()) {
    EXPECT_NEAR(scores.at(key), value.get<double>(), 1e-9) << key;
  }
}

TEST(MetricFixtures, DepthMetricsMatchPlainFormulas) {
  const auto& depth = fixture().at("depth");
  const auto pred = tensor_of(depth.at("pred"), torch::kDouble);
  const auto gt = tensor_of(depth.at("gt"), torch::kDouble);
  const auto valid = tensor_of(depth.at("valid"), torch::kBool);
  const std::pair<const char*, DepthAlignment> modes[] = {
      {"median_per_frame", DepthAlignment::kMedianPerFrame},
      {"median_per_clip", DepthAlignment::kMedianPerClip},
      {"scale_shift_per_frame", DepthAlignment::kScaleShiftPerFrame}};
  for (const auto& [name, mode] : modes) {
    const auto& expected = depth.at("metrics").at(name);
    const auto scores = depth_metrics(pred, gt, valid, mode);
    EXPECT_NEAR(scores.abs_rel, expected.at("abs_rel").get<double>(), 1e-12) << name;
    EXPECT_NEAR(scores.delta1, expected.at("delta1").get<double>(), 1e-12) << name;
    EXPECT_EQ(scores.valid_pixels, expected.at("valid_pixels").get<int64_t>()) << name;
  }
}

TEST(MetricFixtures, PointMetricsMatchHornAlignment) {
  const auto& points = fixture().at("points");
  const auto scores = point_metrics(tensor_of(points.at("pred"), torch::kDouble),
                                    tensor_of(points.at("gt"), torch::kDouble),
                                    tensor_of(points.at("valid"), torch::kBool));
  const auto& expected = points.at("metrics");
  EXPECT_NEAR(scores.err, expected.at("err").get<double>(), 1e-10);
  EXPECT_NEAR(scores.accuracy, expected.at("accuracy").get<double>(), 1e-10);
  EXPECT_NEAR(scores.completeness, expected.at("completeness").get<double>(), 1e-10);
  EXPECT_NEAR(scores.chamfer, expected.at("chamfer").get<double>(), 1e-10);
  EXPECT_EQ(scores.valid_points, expected.at("valid_points").get<int64_t>());
}

}  // namespace
}  // namespace vidprobe::metrics
