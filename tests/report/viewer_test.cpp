// The report's 3D views and PLY exports from the evaluator's geometry files (browser_test.cpp
// opens them in a real browser).
#include "vidprobe/report/viewer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "report_fixture.h"
#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::report {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path temp_dir(const std::string& name) {
  return test_support::fresh_temp_dir("viewer_" + name);
}

using test_fixture::sphere_geometry;

RunResult run_with_geometry(const fs::path& root, const TensorMap& geometry) {
  fs::create_directories(root / "eval");
  save_safetensors(root / "eval" / "clip_7_geometry.safetensors", geometry);
  RunResult run;
  run.label = "wan L20";
  run.dataset = "co3d";
  run.eval_dir = root / "eval";
  run.metrics = {{"points.err", 0.3}};
  return run;
}

std::string ply_header(const fs::path& path) {
  const auto text = read_file(path);
  return text.substr(0, text.find("end_header"));
}

TEST(Viewer, WritesPlyExportsAndADownSampledViewPerClip) {
  const auto root = temp_dir("exports");
  const auto run = run_with_geometry(root, sphere_geometry(5000));
  ::setenv("VIDPROBE_THREE_JS", (root / "three.min.js").c_str(), 1);
  write_file_atomically(root / "three.min.js", "/* three.js stand-in */");
  const auto viewers = write_clip_viewers(run, "co3d_wan", root / "report", 2, 1000);
  ::unsetenv("VIDPROBE_THREE_JS");
  ASSERT_EQ(viewers.size(), 1u);
  EXPECT_EQ(viewers[0].clip, "clip_7");
  EXPECT_EQ(viewers[0].points, 1000);
  EXPECT_EQ(viewers[0].page, "viewer/co3d_wan_clip_7.html");
  EXPECT_THAT(ply_header(root / "report/exports/co3d_wan_clip_7_gt.ply"),
              HasSubstr("element vertex 5000\n"));
  EXPECT_THAT(ply_header(root / "report/exports/co3d_wan_clip_7_pred.ply"),
              HasSubstr("element vertex 5000\n"));
  const auto cameras = ply_header(root / "report/exports/co3d_wan_clip_7_cameras.ply");
  EXPECT_THAT(cameras, HasSubstr("element vertex 20\n"));  // 2 x 2 cameras x (centre + 4)
  EXPECT_THAT(cameras, HasSubstr("element edge 32\n"));
  const auto data = read_file(root / "report/viewer/co3d_wan_clip_7.js");
  EXPECT_THAT(data, HasSubstr("window.VIDPROBE_CLOUD"));
  EXPECT_THAT(data, HasSubstr("width: 64, height: 48"));
  EXPECT_EQ(read_file(root / "report/viewer/three.min.js"), "/* three.js stand-in */");
  EXPECT_TRUE(fs::exists(root / "report/viewer/viewer.js"));
  fs::remove_all(root);
}

TEST(Viewer, AGeometryFileWithAMissingOrMisshapenTensorIsNamed) {
  const auto root = temp_dir("bad");
  auto geometry = sphere_geometry(10);
  geometry.erase("error");
  const auto run = run_with_geometry(root, geometry);
  EXPECT_THAT(
      test_support::error_message([&] { write_clip_viewers(run, "p", root / "report", 1); }),
      HasSubstr("clip_7_geometry.safetensors' has no tensor 'error'"));
  geometry = sphere_geometry(10);
  geometry["gt_cameras"] = torch::zeros({2, 4, 4});
  save_safetensors(root / "eval" / "clip_7_geometry.safetensors", geometry);
  EXPECT_THAT(
      test_support::error_message([&] { write_clip_viewers(run, "p", root / "report", 1); }),
      HasSubstr("tensor 'gt_cameras' has shape [2, 4, 4]"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace vidprobe::report
