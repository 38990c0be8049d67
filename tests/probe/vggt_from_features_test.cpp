// `vidprobe train --model vggt-from-features` and `--train-fraction`: the VGGT preset of the
// probe configuration, VGGT's constants inside the shared layers, the deterministic nested
// training subsets, and an end-to-end run (render, extract, train, eval) through the CLI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "probe/probe_test_util.h"
#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/dpt_head.h"
#include "vidprobe/probe/clip_source.h"
#include "vidprobe/probe/probe_model.h"
#include "vidprobe/probe/workflow.h"

namespace vidprobe::probe {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path scratch_dir(const std::string& name) {
  return test_support::fresh_temp_dir("vggt_features_" + name);
}

TEST(VggtFromFeatures, PresetHasVggtSizesAndTheConfigFileOverridesIt) {
  ConfigOverrides overrides;
  overrides.model = "vggt-from-features";
  overrides.preset = "vidprobe";
  const auto preset = resolve_config("", overrides);
  EXPECT_DOUBLE_EQ(preset.model.norm_eps, 1e-5);
  EXPECT_TRUE(preset.heads.dense.relu_skip);
  EXPECT_EQ(preset.model.width, 1024);
  EXPECT_EQ(preset.model.num_heads, 16);
  EXPECT_EQ(preset.model.num_blocks, 4);
  EXPECT_EQ(preset.heads.camera.trunk_depth, 4);
  EXPECT_EQ(preset.heads.camera.iterations, 4);
  EXPECT_EQ(preset.heads.dense.features, 256);
  EXPECT_EQ(preset.heads.dense.out_channels, (std::vector<int>{256, 512, 1024, 1024}));

  overrides.vggt_blocks = 24;
  EXPECT_EQ(nn::dense_head_layers(resolve_config("", overrides).heads.dense, 24),
            (std::vector<int>{4, 11, 17, 23}));
  EXPECT_EQ(nn::dense_head_layers(testing::tiny_config().heads.dense, 4),
            (std::vector<int>{0, 1, 2, 3}));

  const auto file = scratch_dir("preset") / "config.json";
  write_file_atomically(file, R"({"model": {"width": 64, "num_heads": 4}})");
  const auto overridden = resolve_config(file, overrides);
  EXPECT_DOUBLE_EQ(overridden.model.norm_eps, 1e-5);
  EXPECT_EQ(overridden.model.width, 64);
  EXPECT_EQ(overridden.model.num_blocks, 24);

  ConfigOverrides bad;
  bad.model = "vggt";
  EXPECT_THAT(test_support::error_message([&] { resolve_config("", bad); }), HasSubstr("'vggt'"));
  ConfigOverrides depth_alone;
  depth_alone.vggt_blocks = 8;
  EXPECT_THAT(test_support::error_message([&] { resolve_config("", depth_alone); }),
              HasSubstr("--vggt-depth"));
  ConfigOverrides fraction;
  fraction.train_fraction = 0;
  EXPECT_THAT(test_support::error_message([&] { resolve_config("", fraction); }),
              HasSubstr("train.train_fraction"));
}

TEST(VggtFromFeatures, VggtConstantsReachTheSharedLayers) {
  auto config = testing::tiny_config();
  const auto vggt_sizes = vggt_from_features_config(config, 4);
  config.model.norm_eps = vggt_sizes.model.norm_eps;
  config.heads.dense.relu_skip = true;
  config.heads.camera.qk_norm = false;
  config.heads.camera.layer_scale_init = vggt_sizes.heads.camera.layer_scale_init;
  config.heads.camera.norm_eps = vggt_sizes.heads.camera.norm_eps;
  ProbeModel vggt(config, 12);
  const auto& frame_block = vggt->aggregator->frame_blocks[0]->as<nn::Block>();
  EXPECT_DOUBLE_EQ(frame_block->norm1->options.eps(), 1e-5);
  const auto& trunk_block = vggt->camera_head->trunk[0]->as<nn::Block>();
  EXPECT_TRUE(trunk_block->ls1->gamma.defined());
  EXPECT_FALSE(trunk_block->attn->options.qk_norm);
  EXPECT_TRUE(vggt->depth_head->refine[0]->as<nn::FusionBlock>()->unit2->skip_from_activation);

  ProbeModel plain(testing::tiny_config(), 12);
  EXPECT_DOUBLE_EQ(plain->aggregator->frame_blocks[0]->as<nn::Block>()->norm1->options.eps(), 1e-6);
  EXPECT_TRUE(plain->camera_head->trunk[0]->as<nn::Block>()->ls1.is_empty());
  EXPECT_FALSE(plain->depth_head->refine[0]->as<nn::FusionBlock>()->unit2->skip_from_activation);

  // Same parameters apart from the camera trunk: VGGT's adds two LayerScales (2 x 2 width each)
  // and drops the per-head q/k LayerNorms (2 x 2 x head width) of every trunk block.
  const int64_t dim_in = 2 * config.model.width, head_dim = dim_in / config.model.num_heads;
  EXPECT_EQ(count_parameters(*vggt) - count_parameters(*plain),
            config.heads.camera.trunk_depth * (2 * dim_in - 4 * head_dim));
}

TEST(TrainFraction, IsDeterministicNestedAndKeepsAtLeastOneClip) {
  const auto third = train_fraction_subset(10, 0.3, 7);
  EXPECT_EQ(third.size(), 3u);
  EXPECT_TRUE(std::is_sorted(third.begin(), third.end()));
  EXPECT_EQ(third, train_fraction_subset(10, 0.3, 7));
  const auto more = train_fraction_subset(10, 0.6, 7);
  EXPECT_EQ(more.size(), 6u);
  EXPECT_TRUE(std::includes(more.begin(), more.end(), third.begin(), third.end()));
  EXPECT_NE(third, train_fraction_subset(10, 0.3, 8));
  EXPECT_EQ(train_fraction_subset(10, 0.01, 7).size(), 1u);
  EXPECT_EQ(train_fraction_subset(10, 1.0, 7).size(), 10u);
  EXPECT_THAT(test_support::error_message([] { train_fraction_subset(10, 1.5, 7); }),
              HasSubstr("--train-fraction"));
}

// render -> extract -> train --model vggt-from-features (sizes shrunk by --config) with
// --train-fraction -> eval, all through the command line.
TEST(VggtFromFeatures, TrainsOnAFractionAndEvaluatesEndToEnd) {
  const auto dir = scratch_dir("cli");
  const auto log = dir / "log.txt";
  ASSERT_EQ(test_support::run_vidprobe(
                "render --family objects --clips 4 --frames 4 --size 48 --seed 1 --out '" +
                    (dir / "data").string() + "'",
                log),
            0)
      << read_file(log);
  ASSERT_EQ(
      test_support::run_vidprobe("extract --backbone pixels --data '" + (dir / "data").string() +
                                     "' --frames 4 --gt-size 32 --dtype fp32 --out '" +
                                     (dir / "feats").string() + "'",
                                 log),
      0)
      << read_file(log);
  const auto config = dir / "tiny_vggt.json";
  write_file_atomically(config, R"({
    "model": {"width": 32, "num_heads": 2, "num_blocks": 2, "num_register_tokens": 2},
    "heads": {"dense": {"features": 16, "out_channels": [8, 16, 16, 16]},
              "camera": {"trunk_depth": 1, "iterations": 2}},
    "train": {"batch_size": 2, "log_every": 1, "checkpoint_every": 10, "val_every": 10}
  })");
  const auto run = dir / "run";
  ASSERT_EQ(test_support::run_vidprobe(
                "train --preset vidprobe --model vggt-from-features --vggt-depth 2 --config '" +
                    config.string() + "' --features '" + (dir / "feats").string() +
                    "' --train-fraction 0.5 --steps 3 --out '" + run.string() + "'",
                log),
            0)
      << read_file(log);
  const auto stored = nlohmann::json::parse(read_file(run / "config.json"));
  EXPECT_EQ(stored["model"]["norm_eps"], 1e-5);
  EXPECT_EQ(stored["heads"]["dense"]["relu_skip"], true);
  EXPECT_EQ(stored["model"]["width"], 32);
  EXPECT_EQ(stored["heads"]["camera"]["iterations"], 2);
  EXPECT_EQ(stored["train"]["train_fraction"], 0.5);
  const auto run_json = read_file(run / "run.json");
  EXPECT_TRUE(fs::exists(run / "model.safetensors"));

  ASSERT_EQ(test_support::run_vidprobe("eval --run '" + run.string() + "' --features '" +
                                           (dir / "feats").string() + "' --out '" +
                                           (run / "eval").string() + "'",
                                       log),
            0)
      << read_file(log);
  const auto metrics = nlohmann::json::parse(read_file(run / "eval" / "metrics.json"));
  EXPECT_EQ(metrics.at("num_clips"), 4);
  EXPECT_TRUE(metrics.contains("depth.abs_rel"));
  EXPECT_TRUE(metrics.contains("camera.auc30"));

  // The comparison table: the run next to the constant predictor, as the paper's rows.
  ASSERT_EQ(test_support::run_vidprobe(
                "report --eval 'objects/vggt-from-features 50%=" + (run / "eval").string() +
                    "' --out '" + (dir / "report").string() + "'",
                log),
            0)
      << read_file(log);
  const auto table = read_file(dir / "report" / "metrics.md");
  EXPECT_NE(table.find("| objects | vggt-from-features 50% |"), std::string::npos) << table;
  EXPECT_NE(table.find("constant (mean GT) predictor"), std::string::npos) << table;
  fs::remove_all(dir.parent_path());
}

}  // namespace
}  // namespace vidprobe::probe
