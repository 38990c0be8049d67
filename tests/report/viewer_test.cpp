// The report's 3D views and PLY exports from the evaluator's geometry files, and (in a real
// headless browser) that the pages load without console errors and draw.
#include "vidprobe/report/viewer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/io/image.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::report {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path temp_dir(const std::string& name) {
  return test_support::fresh_temp_dir("viewer_" + name);
}

// A unit sphere of coloured points seen by two cameras, as `vidprobe eval` writes it.
TensorMap sphere_geometry(int64_t points) {
  torch::manual_seed(3);
  auto gt = torch::randn({points, 3});
  gt = gt / gt.norm(2, 1, true) + torch::tensor({0.0f, 0.0f, 4.0f});
  const auto pred = gt + 0.05 * torch::randn({points, 3});
  const auto cameras = torch::stack({torch::eye(3, 4), torch::eye(3, 4)});
  cameras[1][0][3] = 0.5;
  const auto k = torch::tensor({{50.0f, 0.0f, 32.0f}, {0.0f, 50.0f, 24.0f}, {0.0f, 0.0f, 1.0f}});
  return {{"gt_points", gt},
          {"pred_points", pred},
          {"colors", (torch::rand({points, 3}) * 255).to(torch::kUInt8)},
          {"error", (pred - gt).norm(2, 1)},
          {"gt_cameras", cameras},
          {"pred_cameras", cameras.clone()},
          {"intrinsics", torch::stack({k, k})},
          {"image_size", torch::tensor({48, 64}, torch::kInt64)}};
}

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

// Headless Chromium (Debian's chromium-headless-shell, software WebGL) opens the report and a 3D
// view as a user would. The README's test command installs it and sets VIDPROBE_REQUIRE_BROWSER,
// so CI cannot skip this; elsewhere it skips when the browser is missing.
struct Browser {
  fs::path binary;
  static Browser find() {
    for (const char* name : {"chromium-headless-shell", "chromium"})
      for (const char* dir : {"/usr/bin", "/usr/local/bin"})
        if (fs::exists(fs::path(dir) / name)) return {fs::path(dir) / name};
    return {};
  }
  // Runs the browser on a page; returns its stderr (console messages land there).
  std::string run(const std::string& arguments, const fs::path& page, const fs::path& log) const {
    const auto command = binary.string() +
                         " --no-sandbox --disable-gpu-sandbox --enable-unsafe-swiftshader "
                         "--use-angle=swiftshader --enable-logging=stderr --v=0 " +
                         arguments + " 'file://" + page.string() + "' > '" + log.string() +
                         ".out' 2> '" + log.string() + "'";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return read_file(log);
  }
};

void expect_no_console_errors(const std::string& log) {
  for (const char* bad : {"Uncaught", ":ERROR:CONSOLE", "Failed to load resource"})
    EXPECT_EQ(log.find(bad), std::string::npos) << bad << " in the browser log:\n" << log;
}

TEST(ReportInBrowser, PagesLoadWithoutErrorsAndTheViewerDraws) {
  const auto browser = Browser::find();
  if (browser.binary.empty() || three_js_source().empty()) {
    if (std::getenv("VIDPROBE_REQUIRE_BROWSER"))
      FAIL() << "chromium-headless-shell and libjs-three are required (scripts/setup.sh)";
    GTEST_SKIP() << "no headless Chromium or three.js here";
  }
  const auto root = temp_dir("browser");
  const auto run = run_with_geometry(root, sphere_geometry(3000));
  write_report({run}, root / "report", {});
  const auto page = root / "report" / "viewer" / "co3d_wan_L20_clip_7.html";
  ASSERT_TRUE(fs::exists(page)) << "viewer page missing";
  const auto log = browser.run("--screenshot='" + (root / "view.png").string() +
                                   "' --window-size=960,760 --virtual-time-budget=5000",
                               page, root / "viewer.log");
  expect_no_console_errors(log);
  EXPECT_THAT(log, HasSubstr("vidprobe viewer ready: 3000 points per cloud"));
  // The canvas (900 x 600 under a heading and the controls) shows the cloud: many pixels that are
  // neither the white background nor grey page text.
  const auto shot = read_png_u8(root / "view.png");
  int coloured = 0;
  for (int y = 120; y < std::min(shot.height, 700); ++y)
    for (int x = 10; x < std::min(shot.width, 900); ++x) {
      const int r = shot.at(x, y, 0), g = shot.at(x, y, 1), b = shot.at(x, y, 2);
      coloured += std::max({r, g, b}) - std::min({r, g, b}) > 40;
    }
  EXPECT_GT(coloured, 2000) << "the 3D view drew almost nothing";

  const auto dom_log = browser.run("--dump-dom --virtual-time-budget=2000",
                                   root / "report" / "index.html", root / "index.log");
  expect_no_console_errors(dom_log);
  const auto dom = read_file(root / "index.log.out");
  EXPECT_THAT(dom, HasSubstr("<table>"));
  EXPECT_THAT(dom, HasSubstr("3D view</a>"));
  EXPECT_THAT(dom, HasSubstr("exports/co3d_wan_L20_clip_7_cameras.ply"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace vidprobe::report
