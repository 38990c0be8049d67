// `vidprobe extract` and `vidprobe sweep` on WAN through the command line, with the small WAN
// fixture (diffusers layout, sized by its own config.json, so registered as "wan2.1-t2v"): a
// 5-frame clip (4k + 1) goes through VAE + DiT, the probe keeps 3 of the frames, and a
// 2 layers x 2 timesteps sweep trains and evaluates a probe per point.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "backbones/wan/test_fixtures.h"
#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/features/feature_cache.h"
#include "vidprobe/io/safetensors.h"

namespace vidprobe::backbones::wan {
namespace {
namespace fs = std::filesystem;

using testing::write_model_directory;

TEST(WanCli, ExtractAndSweepWithFixtureWeights) {
  const auto dir = fs::temp_directory_path() / ("vidprobe_wan_cli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto log = dir / "log.txt";
  write_model_directory(dir / "model");
  save_safetensors(dir / "context.safetensors", {{"context", testing::golden("context")}});
  ASSERT_EQ(test_support::run_vidprobe(
                "render --family objects --clips 5 --frames 5 --size 48 --seed 2 --out '" +
                    (dir / "data").string() + "'",
                log),
            0)
      << read_file(log);
  const std::string common = " --backbone wan2.1-t2v --weights '" + (dir / "model").string() +
                             "' --backbone-opt text_context='" +
                             (dir / "context.safetensors").string() +
                             "' --backbone-opt size=32x48 --data '" + (dir / "data").string() +
                             "' --frames 5 --probe-frames 3 --gt-size 16 --dtype fp32";

  ASSERT_EQ(test_support::run_vidprobe("extract" + common + " --layer 1 --timestep 250 --out '" +
                                           (dir / "features").string() + "'",
                                       log),
            0)
      << read_file(log);
  const auto cache = features::FeatureCache::open(dir / "features");
  EXPECT_EQ(cache.manifest()["identity"]["layer"], 1);
  EXPECT_EQ(cache.manifest()["identity"]["timestep"], 250);
  EXPECT_EQ(cache.manifest()["identity"]["gt_size"], nlohmann::json::array({16, 24}));
  const auto shard = cache.load(cache.clip_ids().at(0));
  // 3 kept frames, width 40, tokens of 16 x 16 pixels on a 32 x 48 input; GT keeps the aspect.
  EXPECT_EQ(shard.features.sizes(), (std::vector<int64_t>{3, 40, 2, 3}));
  EXPECT_EQ(shard.depth.sizes(), (std::vector<int64_t>{3, 16, 24}));

  // Whole clips (no --probe-frames): each latent stored once with the frame -> latent index, the
  // layout the paper's protocol draws its views from.
  auto whole = common;
  whole.erase(whole.find(" --probe-frames 3"), std::string(" --probe-frames 3").size());
  ASSERT_EQ(test_support::run_vidprobe("extract" + whole + " --layer 1 --timestep 250 --out '" +
                                           (dir / "whole").string() + "'",
                                       log),
            0)
      << read_file(log);
  const auto whole_cache = features::FeatureCache::open(dir / "whole");
  const auto clip = whole_cache.load(shard.clip_id);
  EXPECT_EQ(clip.features.size(0), 2);
  EXPECT_TRUE(torch::equal(clip.feature_index, torch::tensor({0, 1, 1, 1, 1}, torch::kLong)));
  EXPECT_EQ(clip.num_frames(), 5);
  // The kept frames 0, 2, 4 of the first cache read latents 0, 1, 1.
  EXPECT_TRUE(torch::equal(shard.features[0], clip.features[0]));
  EXPECT_TRUE(torch::equal(shard.features[2], clip.features[1]));

  const auto probe_config = dir / "probe.json";
  write_file_atomically(probe_config, R"({
    "model": {"width": 32, "num_heads": 2, "num_blocks": 1, "num_register_tokens": 1},
    "heads": {"dense": {"features": 8, "out_channels": [8, 8, 8, 8]}, "camera": {"trunk_depth": 1}},
    "train": {"batch_size": 2, "log_every": 1}
  })");
  ASSERT_EQ(test_support::run_vidprobe("sweep" + common +
                                           " --preset vidprobe --train-ratio 0.6 --layers 0,2"
                                           " --timesteps 250,750" +
                                           " --steps 2 --config '" + probe_config.string() +
                                           "' --out '" + (dir / "sweep").string() + "'",
                                       log),
            0)
      << read_file(log);
  const auto sweep = nlohmann::json::parse(read_file(dir / "sweep" / "sweep.json"));
  ASSERT_EQ(sweep["points"].size(), 4u);
  for (const auto& point : sweep["points"]) {
    EXPECT_TRUE(point["metrics"].contains("depth.abs_rel")) << point.dump();
    const auto name = point["name"].get<std::string>();
    const auto manifest = nlohmann::json::parse(
        read_file(dir / "sweep" / "features" / name / "train" / "manifest.json"));
    EXPECT_EQ(manifest["identity"]["layer"], point["layer"]);
    EXPECT_EQ(manifest["identity"]["timestep"], point["timestep"]);
  }
  EXPECT_TRUE(fs::exists(dir / "sweep" / "sweep.md"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::backbones::wan
