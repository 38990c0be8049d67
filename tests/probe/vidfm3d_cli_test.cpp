// The paper's protocol through the command line: `vidprobe train` with no preset flag trains the
// authors' probe on views drawn from whole clips, `vidprobe eval` writes both metric families,
// the authors' own trained weights (their key names) evaluate with `eval --weights`, and the report
// shows the paper's metrics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "probe/synthetic_shards.h"
#include "test_support.h"
#include "vidprobe/core/atomic_file.h"

namespace vidprobe::probe {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kFixtures = fs::path(VIDPROBE_TEST_DATA_DIR) / "vidfm3d";

fs::path scratch_dir() {
  const auto dir =
      fs::temp_directory_path() / ("vidprobe_vidfm3d_cli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A cache of whole 12-frame clips with 24-channel 3 x 5 feature maps (the fixture probe's input),
// a latent-style feature index (one map for frame 0, then one per 2 frames) and a GT confidence.
void write_cache(const fs::path& dir, int clips, std::uint64_t seed) {
  testing::SyntheticSpec spec;
  spec.clips = clips;
  spec.frames = 12;
  spec.size = 16;
  spec.grid = 3;
  spec.channels = 24;
  spec.seed = seed;
  nlohmann::json ids = nlohmann::json::array();
  for (auto shard : testing::synthetic_shards(spec)) {
    const auto index = torch::tensor({0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6}, torch::kLong);
    shard.features = shard.features.index_select(0, torch::tensor({0, 1, 3, 5, 7, 9, 11}));
    shard.features =
        torch::nn::functional::interpolate(
            shard.features.to(torch::kFloat32),
            torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{3, 5}))
            .to(torch::kFloat16);
    shard.feature_index = index;
    shard.confidence = shard.valid.to(torch::kFloat32) * (1.5 + torch::rand({12, 16, 16}));
    shard.clip_id = "clip_" + std::to_string(seed) + "_" + shard.clip_id;
    features::write_shard(dir, shard);
    ids.push_back(shard.clip_id);
  }
  write_file_atomically(
      dir / "manifest.json",
      nlohmann::json{{"format", "vidprobe-feature-cache"}, {"clips", ids}}.dump());
}

TEST(Vidfm3dCli, TrainsThePapersProbeEvaluatesBothBlocksAndLoadsTheAuthorsWeights) {
  const auto dir = scratch_dir();
  const auto log = dir / "log.txt";
  write_cache(dir / "train", 4, 1);
  write_cache(dir / "val", 2, 2);
  // The fixture's small ProbeModelPA, and views that fit 12-frame clips.
  const auto config = dir / "small.json";
  write_file_atomically(config, R"({
    "model": {"width": 64},
    "heads": {"dense": {"features": 16, "out_channels": [8, 16, 32, 32]}},
    "views": {"min_gap": 2, "context": 10, "snap": 2},
    "train": {"epochs": 2, "batch_size": 2, "log_every": 1, "checkpoint_every": 100}
  })");
  const auto run = dir / "run";
  ASSERT_EQ(test_support::run_vidprobe("train --features '" + (dir / "train").string() +
                                           "' --val-features '" + (dir / "val").string() +
                                           "' --config '" + config.string() + "' --out '" +
                                           run.string() + "'",
                                       log),
            0)
      << read_file(log);
  const auto stored = nlohmann::json::parse(read_file(run / "config.json"));
  EXPECT_EQ(stored["preset"], "vidfm3d");
  EXPECT_EQ(stored["loss"]["point"]["confidence"], "ground_truth");
  EXPECT_EQ(stored["views"]["count"], 4);
  const auto info = nlohmann::json::parse(read_file(run / "run.json"));
  EXPECT_EQ(info["total_steps"], 4);         // 2 epochs of 4 clips in batches of 2
  EXPECT_EQ(info["geometry"]["frames"], 4);  // views, not the 12 stored frames
  EXPECT_THAT(read_file(run / "train_log.jsonl"), HasSubstr("\"val.Auc_30\""));
  EXPECT_EQ(stored["model"]["gradient_checkpointing"], true);  // the authors' config

  // --gradient-checkpointing reaches the run's config through `vidprobe train`; a bad value is
  // refused by name before any work.
  const auto train_with = [&](const std::string& setting, const fs::path& out) {
    return test_support::run_vidprobe("train --features '" + (dir / "train").string() +
                                          "' --config '" + config.string() + "' --out '" +
                                          out.string() + "' --gradient-checkpointing " + setting,
                                      log);
  };
  ASSERT_EQ(train_with("off", dir / "run_off"), 0) << read_file(log);
  EXPECT_EQ(nlohmann::json::parse(
                read_file(dir / "run_off" / "config.json"))["model"]["gradient_checkpointing"],
            false);
  EXPECT_NE(train_with("sometimes", dir / "run_bad"), 0);
  EXPECT_THAT(read_file(log), HasSubstr("--gradient-checkpointing"));
  EXPECT_FALSE(fs::exists(dir / "run_bad"));

  ASSERT_EQ(
      test_support::run_vidprobe(
          "eval --run '" + run.string() + "' --features '" + (dir / "val").string() + "'", log),
      0)
      << read_file(log);
  const auto metrics = nlohmann::json::parse(read_file(run / "eval" / "metrics.json"));
  EXPECT_EQ(metrics["preset"], "vidfm3d");
  for (const char* key : {"Auc_30", "Auc_5", "Rac_5", "Tac_15", "pmap_mse_aligned", "loss_depth"})
    EXPECT_TRUE(metrics["vidfm3d"].contains(key)) << key;
  EXPECT_EQ(metrics["vidfm3d"]["paper_comparable"], true);
  EXPECT_TRUE(metrics.contains("camera.auc30"));
  EXPECT_TRUE(metrics["baseline"]["vidfm3d"].contains("pmap_mse_aligned"));

  // The authors' weights under their names, evaluated without a run.
  ASSERT_EQ(test_support::run_vidprobe(
                "eval --weights '" + (kFixtures / "probe.safetensors").string() + "' --config '" +
                    config.string() + "' --features '" + (dir / "val").string() + "' --out '" +
                    (dir / "authors").string() + "'",
                log),
            0)
      << read_file(log);
  const auto theirs = nlohmann::json::parse(read_file(dir / "authors" / "metrics.json"));
  EXPECT_TRUE(theirs["vidfm3d"].contains("pmap_mse_aligned"));
  EXPECT_FALSE(theirs.contains("baseline"));
  EXPECT_NE(test_support::run_vidprobe(
                "eval --weights '" + (kFixtures / "probe.safetensors").string() + "' --features '" +
                    (dir / "val").string() + "' --out '" + (dir / "wrong").string() + "'",
                log),
            0);
  EXPECT_THAT(read_file(log), HasSubstr("probe.safetensors"));  // the default widths do not fit

  ASSERT_EQ(test_support::run_vidprobe("report --eval 'synthetic/probe=" + (run / "eval").string() +
                                           "' --out '" + (dir / "report").string() + "'",
                                       log),
            0)
      << read_file(log);
  const auto table = read_file(dir / "report" / "metrics.md");
  EXPECT_THAT(table, HasSubstr("The paper's metrics"));
  EXPECT_THAT(table, HasSubstr("paper's (vidfm3d)"));
  fs::remove_all(dir);
}

TEST(Vidfm3dCli, ClipsShorterThanTheViewContextAreRefusedByName) {
  const auto dir = scratch_dir();
  const auto log = dir / "log.txt";
  write_cache(dir / "train", 2, 3);
  ASSERT_NE(test_support::run_vidprobe("train --features '" + (dir / "train").string() +
                                           "' --batch 2 --epochs 1 --out '" +
                                           (dir / "run").string() + "'",
                                       log),
            0);
  EXPECT_THAT(read_file(log), HasSubstr("has 12 frames"));
  EXPECT_THAT(read_file(log), HasSubstr("views.context"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::probe
