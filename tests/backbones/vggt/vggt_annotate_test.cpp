// `vidprobe annotate` on a tiny rendered set with the small fixture VGGT
// (tests/fixtures/backbones/vggt): the output re-opens as a dataset, `vidprobe extract` consumes
// it, a second run resumes (skips everything), and --shard i/n splits the clips.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "backbones/checkpoint_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/vggt/annotate.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/data/dataset.h"
#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/features/extractor.h"
#include "vidprobe/features/feature_cache.h"

namespace vidprobe::backbones {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

nlohmann::json small_config_json() {
  std::ifstream in(testing::fixture("vggt", "meta.json"));
  return nlohmann::json::parse(in).at("small");
}

class VggtAnnotateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("vidprobe_annotate_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    ASSERT_EQ(test_support::run_vidprobe(
                  "render --family objects --clips 3 --frames 4 --size 48 --seed 2 --out '" +
                      (root_ / "data").string() + "'",
                  root_ / "render.log"),
              0)
        << read_file(root_ / "render.log");
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static AnnotateOptions options(const std::string& out) {
    AnnotateOptions o;
    o.dataset_root = root_ / "data";
    o.weights = testing::fixture("vggt", "small.safetensors").string();
    o.config = vggt_config_from_json(small_config_json());
    o.image_size = 56;
    o.frames = 3;
    o.out_dir = root_ / out;
    return o;
  }

  static fs::path root_;
};
fs::path VggtAnnotateTest::root_;

TEST_F(VggtAnnotateTest, WritesClipsThatReopenAsADatasetAndFeedExtract) {
  const auto summary = annotate_with_vggt(options("annotated"));
  EXPECT_EQ(summary.clips_written, 3);
  EXPECT_EQ(summary.clips_skipped, 0);

  const auto dataset = open_dataset("synthetic", root_ / "annotated");
  ASSERT_EQ(dataset->sequences().size(), 3u);
  const auto clip = dataset->load_clip(dataset->sequences().front(), {0, 1, 2});
  ASSERT_EQ(clip.frames.size(), 3u);
  const auto& first = clip.frames.front();
  EXPECT_EQ(first.camera.width, 56);
  EXPECT_EQ(first.camera.height, 56);
  // The first camera is VGGT's world frame: identity rotation, zero translation up to the
  // (small, random) predicted encoding; principal point at the image centre as VGGT decodes it.
  EXPECT_DOUBLE_EQ(first.camera.K[2], 28.0);
  EXPECT_DOUBLE_EQ(first.camera.K[5], 28.0);
  std::size_t valid = 0;
  for (std::size_t p = 0; p < first.valid.pixels.size(); ++p) {
    valid += first.valid.pixels[p];
    EXPECT_EQ(first.valid.pixels[p] != 0, first.depth.pixels[p] > 0);
  }
  EXPECT_GT(valid, 0u);
  EXPECT_LT(valid, first.valid.pixels.size());  // the 30th percentile of confidence is cut
  const auto meta = read_synthetic_clip_json(root_ / "annotated" / dataset->sequences().front());
  EXPECT_EQ(meta["meta"]["generator"], "vidprobe annotate");
  EXPECT_EQ(meta["meta"]["source"]["dataset"], "synthetic");

  features::ExtractOptions extract;
  extract.backbone = "pixels";
  extract.dataset_root = root_ / "annotated";
  extract.frames = 3;
  extract.gt_size = 28;
  extract.cache_dtype = torch::kFloat32;
  extract.out_dir = root_ / "feats";
  const auto extracted = features::extract_features(extract);
  EXPECT_EQ(extracted.clips_written, 3);
  EXPECT_EQ(features::FeatureCache::open(root_ / "feats").clip_ids().size(), 3u);
}

TEST_F(VggtAnnotateTest, ResumesAndShards) {
  auto first = options("sharded");
  first.shard_index = 0;
  first.shard_count = 2;
  EXPECT_EQ(annotate_with_vggt(first).clips_written, 2);
  auto second = options("sharded");
  second.shard_index = 1;
  second.shard_count = 2;
  EXPECT_EQ(annotate_with_vggt(second).clips_written, 1);
  EXPECT_EQ(list_synthetic_clips(root_ / "sharded").size(), 3u);
  const auto again = annotate_with_vggt(options("sharded"));
  EXPECT_EQ(again.clips_written, 0);
  EXPECT_EQ(again.clips_skipped, 3);
}

TEST_F(VggtAnnotateTest, CommandLineRunsWithAModelConfig) {
  const auto config = root_ / "small.json";
  write_file_atomically(config, small_config_json().dump());
  const auto log = root_ / "annotate.log";
  ASSERT_EQ(
      test_support::run_vidprobe(
          "annotate --data '" + (root_ / "data").string() + "' --weights '" +
              testing::fixture("vggt", "small.safetensors").string() + "' --model-config '" +
              config.string() + "' --backbone-size 56 --frames 2 --clips 2 --shard 0/1 --out '" +
              (root_ / "cli").string() + "'",
          log),
      0)
      << read_file(log);
  EXPECT_THAT(read_file(log), HasSubstr("2 clips written"));
  EXPECT_EQ(list_synthetic_clips(root_ / "cli").size(), 2u);
}

TEST(VggtAnnotate, RejectsBadOptions) {
  EXPECT_THAT(testing::error_message([] { parse_shard("2/2"); }), HasSubstr("0 <= i < n"));
  EXPECT_THAT(testing::error_message([] { parse_shard("a/b"); }), HasSubstr("'a/b'"));
  EXPECT_EQ(parse_shard("1/4"), (std::pair<int, int>{1, 4}));
  EXPECT_THAT(testing::error_message([] {
                vggt_config_from_json({{"widht", 3}});
              }),
              HasSubstr("unknown key 'widht'"));
  AnnotateOptions o;
  o.out_dir = "/tmp/unused";
  o.dataset_root = "/tmp/unused";
  EXPECT_THAT(testing::error_message([&] { annotate_with_vggt(o); }), HasSubstr("--weights"));
  o.weights = "x";
  o.image_size = 500;
  EXPECT_THAT(testing::error_message([&] { annotate_with_vggt(o); }),
              HasSubstr("--backbone-size 500"));
}

}  // namespace
}  // namespace vidprobe::backbones
