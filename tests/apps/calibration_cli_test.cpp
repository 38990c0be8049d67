// The scale of the benchmark, end to end through the command line on a tiny run: the oracle fed
// the clip's point map (the ceiling) reads cameras out far better than a random ViT, and the
// per-frame oracle reads depth as well as the ceiling but not the cameras — the paper's finding
// that per-frame information suffices for depth but not for global geometry, on exact GT.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"

namespace vidprobe {
namespace {
namespace fs = std::filesystem;

class CalibrationCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vidprobe_calibration_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // The demo's probe, narrower, at a higher learning rate (trains in seconds).
    std::ofstream(dir_ / "probe.json") << R"({
      "preset": "vidprobe",
      "model": {"width": 64, "num_heads": 2, "num_blocks": 4, "mlp_ratio": 2.0},
      "heads": {"dense": {"features": 16, "out_channels": [8, 16, 32, 32]},
                "camera": {"trunk_depth": 1}},
      "train": {"batch_size": 2, "lr": 0.003, "checkpoint_every": 1000, "log_every": 50}})";
    run("render --family objects --clips 48 --frames 4 --size 64 --seed 5 --out '" +
        (dir_ / "data").string() + "'");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void run(const std::string& arguments) {
    const auto log = dir_ / "log.txt";
    ASSERT_EQ(test_support::run_vidprobe(arguments, log), 0) << arguments << "\n" << read_file(log);
  }

  // Extract, train and evaluate one probe; returns the held-out metrics.
  nlohmann::json probe(const std::string& name, const std::string& backbone) {
    const auto feats = dir_ / "features" / name, runs = dir_ / "runs" / name;
    for (const std::string split : {"train", "test"})
      run("extract --backbone " + backbone + " --data '" + (dir_ / "data").string() + "' --split " +
          split + " --train-ratio 0.75 --frames 4 --gt-size 32 --seed 5 --out '" +
          (feats / split).string() + "'");
    run("train --features '" + (feats / "train").string() + "' --out '" + runs.string() +
        "' --config '" + (dir_ / "probe.json").string() + "' --steps 300 --seed 5");
    run("eval --run '" + runs.string() + "' --features '" + (feats / "test").string() +
        "' --out '" + (runs / "eval").string() + "'");
    return nlohmann::json::parse(read_file(runs / "eval" / "metrics.json"));
  }

  fs::path dir_;
};

TEST_F(CalibrationCli, OraclesOrderAsTheGeometryTheyCarry) {
  const auto vit = probe("vit", "random-vit");
  const auto depth = probe("depth", "oracle-depth");
  const auto points = probe("points", "oracle-points");
  const auto auc = [](const nlohmann::json& m) { return m.at("camera.auc30").get<double>(); };
  const auto absrel = [](const nlohmann::json& m) { return m.at("depth.abs_rel").get<double>(); };
  std::string all;
  for (const auto& [name, m] :
       {std::pair{"random-vit", vit}, {"oracle-depth", depth}, {"oracle-points", points}})
    all += std::string(name) + ": AUC@30 " + std::to_string(auc(m)) + ", AbsRel " +
           std::to_string(absrel(m)) + "\n";
  // Cameras: only the features with cross-frame geometry read them out.
  EXPECT_GT(auc(points), auc(vit) + 0.2) << all;
  EXPECT_GT(auc(points), auc(depth) + 0.2) << all;
  // Depth: the per-frame oracle is as good as the ceiling and far ahead of the random ViT.
  EXPECT_LT(absrel(depth), 1.5 * absrel(points)) << all;
  EXPECT_LT(absrel(depth), 0.7 * absrel(vit)) << all;
}

}  // namespace
}  // namespace vidprobe
