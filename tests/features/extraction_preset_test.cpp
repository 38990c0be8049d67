// `--preset vidfm3d` on extract: the authors' settings for every option the user did not give,
// per backbone family, and the squash resize / explicit GT size they use, end to end.
#include "vidprobe/features/extraction_preset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/features/feature_cache.h"

namespace vidprobe::features {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

ExtractOptions with_backbone(const std::string& name) {
  ExtractOptions o;
  o.backbone = name;
  return o;
}

TEST(ExtractionPreset, Vidfm3dIsTheAuthorsWanExtraction) {
  auto o = with_backbone("wan2.1-t2v-1.3b");
  apply_extraction_preset("vidfm3d", o, {});
  EXPECT_EQ(o.frames, 81);
  EXPECT_EQ(o.sampling, ClipSamplingMode::kStrided);
  EXPECT_EQ(o.point.layer, 20);
  EXPECT_EQ(o.point.timestep, 502);
  EXPECT_NEAR(*o.point.sigma, 0.5023265480995178, 1e-15);
  EXPECT_EQ(o.backbone_options.at("text_length"), "226");
  EXPECT_EQ(o.compute_dtype, std::optional<torch::Dtype>(torch::kFloat32));
  EXPECT_TRUE(o.noise_per_clip);
  EXPECT_EQ(o.resize, ResizeMode::kSquash);
  EXPECT_EQ(o.gt_size, 294);
  EXPECT_EQ(o.gt_width, 518);
  ASSERT_TRUE(o.input_processor.has_value());
  EXPECT_EQ(o.input_processor->name, "vidfm3d-wan");
}

TEST(ExtractionPreset, GivenOptionsWinAndFamiliesGetTheirOwnSettings) {
  auto wan = with_backbone("wan2.1-t2v-14b");
  wan.frames = 17;
  wan.point.layer = 15;
  wan.backbone_options["text_length"] = "512";
  apply_extraction_preset("vidfm3d", wan, {"frames", "layer", "backbone-opt:text_length"});
  EXPECT_EQ(wan.frames, 17);
  EXPECT_EQ(wan.point.layer, 15);
  EXPECT_EQ(wan.backbone_options.at("text_length"), "512");
  EXPECT_EQ(wan.point.timestep, 502);

  auto dino = with_backbone("dinov2-vitl14");
  apply_extraction_preset("vidfm3d", dino, {});
  EXPECT_EQ(dino.backbone_options.at("size"), "420x728");
  EXPECT_EQ(dino.backbone_options.at("final_norm"), "1");
  EXPECT_FALSE(dino.point.timestep.has_value());
  EXPECT_EQ(dino.frames, 81);
  ASSERT_TRUE(dino.input_processor.has_value());
  EXPECT_EQ(dino.input_processor->name, "vidfm3d-dinov2");
  auto own_pixels = with_backbone("dinov2-vitl14");
  apply_extraction_preset("vidfm3d", own_pixels, {"input-processor"});
  EXPECT_FALSE(own_pixels.input_processor.has_value());

  auto vjepa = with_backbone("vjepa1-vith16-384");
  apply_extraction_preset("vidfm3d", vjepa, {});
  EXPECT_EQ(vjepa.frames, 76);
  EXPECT_EQ(vjepa.sampling, ClipSamplingMode::kStrided);
  EXPECT_EQ(vjepa.backbone_options.at("size"), "480x832");
  EXPECT_EQ(vjepa.backbone_options.at("spaced_clips"), "5");
  EXPECT_EQ(vjepa.point.layer, -1);  // the last block, without the final norm
  EXPECT_EQ(vjepa.compute_dtype, std::optional<torch::Dtype>(torch::kFloat32));
  ASSERT_TRUE(vjepa.input_processor.has_value());
  EXPECT_EQ(vjepa.input_processor->name, "vidfm3d-vjepa");

  auto pixels = with_backbone("pixels");
  pixels.frames = 4;
  apply_extraction_preset("vidfm3d", pixels, {});
  EXPECT_EQ(pixels.frames, 4);  // no paper protocol for it: only the framing is the authors'
  EXPECT_EQ(pixels.resize, ResizeMode::kSquash);
  EXPECT_TRUE(pixels.backbone_options.empty());
  EXPECT_FALSE(pixels.input_processor.has_value());

  auto none = with_backbone("wan2.1-t2v-1.3b");
  apply_extraction_preset("none", none, {});
  EXPECT_EQ(none.resize, ResizeMode::kCrop);
  EXPECT_THAT(test_support::error_message([&] { apply_extraction_preset("paper", none, {}); }),
              HasSubstr("'paper'"));
}

// Through the command line: the whole frame squashed to the input and to a 30 x 52 GT whose
// aspect differs from the input's, the cameras following.
TEST(ExtractionPreset, SquashAndAnExplicitGtSizeThroughTheCommandLine) {
  const auto dir = fs::temp_directory_path() / ("vidprobe_squash_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto log = dir / "log.txt";
  fs::create_directories(dir);
  ASSERT_EQ(test_support::run_vidprobe("render --family objects --clips 1 --frames 4 --size 48 "
                                       "--seed 4 --out '" +
                                           (dir / "data").string() + "'",
                                       log),
            0)
      << read_file(log);
  ASSERT_EQ(test_support::run_vidprobe("extract --preset vidfm3d --backbone pixels --frames 4 "
                                       "--gt-size 30x52 --dtype fp32 --data '" +
                                           (dir / "data").string() + "' --out '" +
                                           (dir / "feats").string() + "'",
                                       log),
            0)
      << read_file(log);
  const auto cache = FeatureCache::open(dir / "feats");
  EXPECT_EQ(cache.manifest()["identity"]["resize"], "squash");
  const auto shard = cache.load(cache.clip_ids().at(0));
  EXPECT_EQ(shard.depth.sizes(), (std::vector<int64_t>{4, 30, 52}));
  // A squash scales the two axes apart: fx / fy is the ratio of the scales (the render is square).
  const auto K = shard.intrinsics[0];
  EXPECT_NEAR((K[0][0] / K[1][1]).item<double>(), (52.0 / 48) / (30.0 / 48), 1e-4);
  EXPECT_NE(test_support::run_vidprobe("extract --backbone pixels --gt-size 30y52 --data '" +
                                           (dir / "data").string() + "' --out '" +
                                           (dir / "bad").string() + "'",
                                       log),
            0);
  EXPECT_THAT(read_file(log), HasSubstr("--gt-size"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::features
