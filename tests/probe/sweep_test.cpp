#include "vidprobe/probe/sweep.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/image.h"
#include "vidprobe/probe/heatmap.h"
#include "vidprobe/probe/visualize.h"

namespace vidprobe::probe {
namespace {
namespace fs = std::filesystem;

TEST(Sweep, ParsesIntegerListsAndNamesBadEntries) {
  EXPECT_EQ(parse_int_list("3,6, 9", "--layers"), (std::vector<int>{3, 6, 9}));
  try {
    parse_int_list("3,x", "--layers");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--layers"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos);
  }
  EXPECT_THROW(parse_int_list("3,,4", "--timesteps"), Error);
  EXPECT_THROW(parse_int_list("2.5", "--timesteps"), Error);
}

TEST(Sweep, AnUnknownHeatMapMetricFailsBeforeAnyWork) {
  for (const std::string ok : {"points.err", "depth.delta1", "camera.auc30", "camera.rta5"})
    EXPECT_NO_THROW(check_heatmap_metric(ok)) << ok;
  SweepRequest request;
  request.heatmap_metric = "points.eror";
  request.layers = {0};
  request.out_dir =
      fs::temp_directory_path() / ("vidprobe_sweep_bad_" + std::to_string(::getpid()));
  try {
    run_sweep(request);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'points.eror'"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(request.out_dir));  // refused before anything was written
}

// --extract-only: every point's cache of both splits from one pass each, the extraction summary
// in extraction.json, and no probe trained.
TEST(Sweep, ExtractOnlyWritesEveryCacheAndTheSummaryAndTrainsNothing) {
  const auto root =
      fs::temp_directory_path() / ("vidprobe_sweep_extract_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  ASSERT_EQ(test_support::run_vidprobe("render --family objects --clips 3 --frames 3 --size 32 "
                                       "--seed 4 --out '" +
                                           (root / "data").string() + "'",
                                       root / "render.log"),
            0);
  SweepRequest request;
  request.extract.backbone = "random-vit";
  request.extract.dataset_root = root / "data";
  request.extract.frames = 3;
  request.extract.train_ratio = 0.6;
  request.layers = {1, 3};
  request.out_dir = root / "sweep";
  request.extract_only = true;
  const auto extraction = run_sweep(request);
  EXPECT_EQ(extraction.at("points"), 2);
  const auto written = extraction.at("train").at("clips_written").get<int>() +
                       extraction.at("test").at("clips_written").get<int>();
  EXPECT_EQ(written, 3);
  EXPECT_EQ(nlohmann::json::parse(read_file(request.out_dir / "extraction.json")), extraction);
  for (const auto* point : {"L1", "L3"})
    for (const auto* split : {"train", "test"})
      EXPECT_TRUE(fs::exists(request.out_dir / "features" / point / split / "manifest.json"))
          << point << " " << split;
  EXPECT_FALSE(fs::exists(request.out_dir / "runs"));
  EXPECT_FALSE(fs::exists(request.out_dir / "sweep.json"));
  fs::remove_all(root);
}

TEST(Sweep, TablesMarkTheBestPointAndTheHeatMapHasOneCellPerPoint) {
  const auto dir = fs::temp_directory_path() / ("vidprobe_sweep_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  nlohmann::json points = nlohmann::json::array();
  for (int layer : {3, 6})
    for (int t : {100, 400}) {
      const double err = 0.1 * layer + t / 1000.0;  // best: L3_t100
      points.push_back(
          {{"name", "L" + std::to_string(layer) + "_t" + std::to_string(t)},
           {"layer", layer},
           {"timestep", t},
           {"metrics",
            {{"points.err", err}, {"camera.auc30", err}, {"baseline", {{"points.err", 9.0}}}}}});
    }
  const nlohmann::json sweep = {
      {"backbone", "test"}, {"layers", {3, 6}}, {"timesteps", {100, 400}}, {"points", points}};
  write_sweep_outputs(dir, sweep, "points.err");
  const auto json = nlohmann::json::parse(read_file(dir / "sweep.json"));
  EXPECT_EQ(json["best"]["points.err"], "L3_t100");
  EXPECT_EQ(json["best"]["camera.auc30"], "L6_t400");  // higher is better
  const auto md = read_file(dir / "sweep.md");
  EXPECT_NE(md.find("**0.4**"), std::string::npos) << md;
  const auto csv = read_file(dir / "sweep.csv");
  EXPECT_NE(csv.find("L6_t400,6,400,1,9"), std::string::npos) << csv;
  const auto png = read_png_u8(dir / "sweep_points.err.png");
  EXPECT_GT(png.width, 2 * 64);
  EXPECT_GT(png.height, 2 * 32);
  fs::remove_all(dir);
}

TEST(Heatmap, CellsAreColouredByValueAndDigitsAreDrawn) {
  const auto image = render_heatmap({{0.0, 1.0}}, {"7"}, {"10", "20"});
  // Sample the cells' corners (left of the centred text): min -> viridis(0), max -> viridis(1).
  int left = 8 + text_width("7", 2) + 8, top = 8 + 10 + 8;
  const auto dark = viridis(0.0), bright = viridis(1.0);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(image.at(left + 2, top + 2, c), dark[static_cast<std::size_t>(c)]);
    EXPECT_EQ(image.at(left + 64 + 2, top + 2, c), bright[static_cast<std::size_t>(c)]);
  }
  // The row label "7" is drawn in black somewhere left of the grid.
  bool found_ink = false;
  for (int y = top; y < top + 32; ++y)
    for (int x = 0; x < left; ++x) found_ink |= image.at(x, y, 0) == 0;
  EXPECT_TRUE(found_ink);
  EXPECT_EQ(text_width("123", 2), 22);
  EXPECT_EQ(format_cell(0.123456), "0.123");
}

TEST(Visualize, ViridisEndsAndPlyHeader) {
  EXPECT_EQ(viridis(0.0), (std::array<std::uint8_t, 3>{68, 1, 84}));
  EXPECT_EQ(viridis(1.0), (std::array<std::uint8_t, 3>{253, 231, 37}));
  EXPECT_EQ(viridis(-3.0), viridis(0.0));
  const auto path =
      fs::temp_directory_path() / ("vidprobe_ply_" + std::to_string(::getpid()) + ".ply");
  write_ply(path, torch::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}).view({2, 3}),
            torch::tensor({255, 0, 0, 0, 255, 0}, torch::kUInt8).view({2, 3}));
  const auto bytes = read_file(path);
  const auto header_end = bytes.find("end_header\n") + 11;
  EXPECT_NE(bytes.find("element vertex 2"), std::string::npos);
  EXPECT_EQ(bytes.size(), header_end + 2 * 15);
  float z = 0;
  std::memcpy(&z, bytes.data() + header_end + 8, 4);
  EXPECT_FLOAT_EQ(z, 3.0f);
  fs::remove(path);
}

}  // namespace
}  // namespace vidprobe::probe
