// extract_features / extract_features_at on a tiny rendered set: several points in one pass give
// the same caches as one pass per point, --probe-frames keeps evenly spaced frames of features and
// ground truth alike, and settings a backbone does not take are refused by name.
#include "vidprobe/features/extractor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/features/feature_cache.h"

namespace vidprobe::features {
namespace {
namespace fs = std::filesystem;
using test_support::error_message;
using ::testing::HasSubstr;

class ExtractorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("vidprobe_extractor_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    ASSERT_EQ(test_support::run_vidprobe(
                  "render --family objects --clips 2 --frames 5 --size 48 --seed 3 --out '" +
                      (root_ / "data").string() + "'",
                  root_ / "render.log"),
              0)
        << read_file(root_ / "render.log");
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static ExtractOptions options(const std::string& backbone, const std::string& out) {
    ExtractOptions o;
    o.backbone = backbone;
    o.dataset_root = root_ / "data";
    o.frames = 5;
    o.gt_size = 24;
    o.cache_dtype = torch::kFloat32;
    o.seed = 5;
    o.out_dir = root_ / out;
    return o;
  }
  static FeatureShard only_shard(const fs::path& dir, std::size_t index = 0) {
    const auto cache = FeatureCache::open(dir);
    return cache.load(cache.clip_ids().at(index));
  }

  static fs::path root_;
};
fs::path ExtractorTest::root_;

TEST_F(ExtractorTest, SeveralPointsInOnePassMatchOnePassPerPoint) {
  auto shared = options("random-vit", "unused");
  backbones::ExtractionPoint early, late;
  early.layer = 1;
  late.layer = 4;
  const auto summaries =
      extract_features_at(shared, {{early, root_ / "multi_l1"}, {late, root_ / "multi_l4"}});
  ASSERT_EQ(summaries.size(), 2u);
  EXPECT_EQ(summaries[0].clips_written, 2);
  EXPECT_EQ(summaries[1].clips_written, 2);

  auto single = options("random-vit", "single_l4");
  single.point = late;
  extract_features(single);
  for (std::size_t clip = 0; clip < 2; ++clip) {
    const auto together = only_shard(root_ / "multi_l4", clip);
    const auto alone = only_shard(root_ / "single_l4", clip);
    EXPECT_TRUE(torch::equal(together.features, alone.features)) << clip;
    EXPECT_TRUE(torch::equal(together.depth, alone.depth)) << clip;
    EXPECT_FALSE(torch::allclose(only_shard(root_ / "multi_l1", clip).features, alone.features));
  }
  const auto manifest = nlohmann::json::parse(read_file(root_ / "multi_l1" / "manifest.json"));
  EXPECT_EQ(manifest["identity"]["layer"], 1);
  // A second pass finds every shard done and writes nothing.
  const auto again =
      extract_features_at(shared, {{early, root_ / "multi_l1"}, {late, root_ / "multi_l4"}});
  EXPECT_EQ(again[0].clips_skipped, 2);
  EXPECT_EQ(again[1].clips_written, 0);
}

TEST_F(ExtractorTest, ProbeFramesKeepEvenlySpacedFramesOfFeaturesAndGroundTruth) {
  extract_features(options("pixels", "all_frames"));
  auto subsampled = options("pixels", "three_frames");
  subsampled.probe_frames = 3;
  extract_features(subsampled);
  const auto all = only_shard(root_ / "all_frames");
  const auto kept = only_shard(root_ / "three_frames");
  const auto index = torch::tensor({0, 2, 4}, torch::kLong);
  ASSERT_EQ(kept.features.size(0), 3);
  EXPECT_TRUE(torch::equal(kept.features, all.features.index_select(0, index)));
  EXPECT_TRUE(torch::equal(kept.depth, all.depth.index_select(0, index)));
  EXPECT_TRUE(torch::equal(kept.extrinsics, all.extrinsics.index_select(0, index)));
  EXPECT_TRUE(torch::equal(kept.images, all.images.index_select(0, index)));
  const auto manifest = nlohmann::json::parse(read_file(root_ / "three_frames" / "manifest.json"));
  EXPECT_EQ(manifest["identity"]["probe_frames"], 3);
  // Resuming the same directory with other frames is refused.
  subsampled.probe_frames = 2;
  EXPECT_THROW(extract_features(subsampled), Error);
}

// --keep-first: the backbone sees every frame, the cache keeps the first N (maps and GT);
// --probe-frames then picks among those N.
TEST_F(ExtractorTest, KeepFirstKeepsTheFirstFramesOfFeaturesAndGroundTruth) {
  extract_features(options("pixels", "all_frames_kf"));
  auto window = options("pixels", "first_three");
  window.keep_first = 3;
  extract_features(window);
  const auto all = only_shard(root_ / "all_frames_kf");
  const auto kept = only_shard(root_ / "first_three");
  ASSERT_EQ(kept.features.size(0), 3);
  EXPECT_TRUE(torch::equal(kept.features, all.features.slice(0, 0, 3)));
  EXPECT_TRUE(torch::equal(kept.depth, all.depth.slice(0, 0, 3)));
  EXPECT_TRUE(torch::equal(kept.intrinsics, all.intrinsics.slice(0, 0, 3)));
  EXPECT_TRUE(torch::equal(kept.images, all.images.slice(0, 0, 3)));
  const auto manifest = nlohmann::json::parse(read_file(root_ / "first_three" / "manifest.json"));
  EXPECT_EQ(manifest["identity"]["keep_first"], 3);
  auto spaced = options("pixels", "first_three_spaced");
  spaced.keep_first = 3;
  spaced.probe_frames = 2;
  extract_features(spaced);
  const auto two = only_shard(root_ / "first_three_spaced");
  EXPECT_TRUE(torch::equal(two.features, all.features.index_select(0, torch::tensor({0, 2}))));
  auto too_many = options("pixels", "refused_window");
  too_many.keep_first = 6;
  EXPECT_THAT(error_message([&] { extract_features(too_many); }), HasSubstr("--keep-first"));
}

// The summary's timing: the backbone runs during part of the loop, and a resumed run that finds
// every shard written runs it not at all (the shards are written on a second thread, so what the
// first run returns must already be on disk for the second to skip it).
TEST_F(ExtractorTest, TheSummaryTimesTheLoopAndTheBackbone) {
  const auto first = extract_features(options("random-vit", "timed"));
  EXPECT_EQ(first.clips_written, 2);
  EXPECT_GT(first.backbone_seconds, 0.0);
  EXPECT_LE(first.backbone_seconds, first.loop_seconds);
  EXPECT_LE(first.loop_seconds, first.seconds);
  EXPECT_GT(first.busy_fraction(), 0.0);
  EXPECT_LE(first.busy_fraction(), 1.0);
  EXPECT_DOUBLE_EQ(first.clips_per_second(), 2 / first.loop_seconds);
  EXPECT_THAT(describe(first), HasSubstr("2 clips written, 0 already done"));
  EXPECT_THAT(describe(first), HasSubstr("% of the loop, waiting for writes "));
  // The wait for the previous clip's shards is timed apart from the backbone, inside the loop.
  EXPECT_GE(first.writer_wait_seconds, 0.0);
  EXPECT_LE(first.backbone_seconds + first.writer_wait_seconds, first.loop_seconds);
  const auto json = summary_json(first);
  EXPECT_EQ(json.at("clips_written"), 2);
  EXPECT_DOUBLE_EQ(json.at("busy_fraction").get<double>(), first.busy_fraction());
  EXPECT_DOUBLE_EQ(json.at("writer_wait_seconds").get<double>(), first.writer_wait_seconds);

  const auto resumed = extract_features(options("random-vit", "timed"));
  EXPECT_EQ(resumed.clips_written, 0);
  EXPECT_EQ(resumed.clips_skipped, 2);
  EXPECT_EQ(resumed.backbone_seconds, 0.0);
  EXPECT_EQ(resumed.clips_per_second(), 0.0);
}

TEST(LoaderThreads, ZeroIsAllCoresButOneFromOneToFifteen) {
  EXPECT_EQ(loader_threads_for(3, 64), 3);
  EXPECT_EQ(loader_threads_for(40, 2), 40);  // asked for: as given
  EXPECT_EQ(loader_threads_for(0, 2), 1);
  EXPECT_EQ(loader_threads_for(0, 1), 1);
  EXPECT_EQ(loader_threads_for(0, 12), 11);
  EXPECT_EQ(loader_threads_for(0, 16), 15);  // the H200 machine's 16 cores
  EXPECT_EQ(loader_threads_for(0, 128), 15);
}

TEST(ProbeFrameIndices, SpreadFromFirstToLastFrame) {
  EXPECT_EQ(probe_frame_indices(17, 4), (std::vector<int64_t>{0, 5, 11, 16}));
  EXPECT_EQ(probe_frame_indices(5, 5), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(probe_frame_indices(9, 1), (std::vector<int64_t>{0}));
  EXPECT_THROW(probe_frame_indices(4, 5), Error);
  EXPECT_THROW(probe_frame_indices(4, 0), Error);
}

// Shards are written several clips at a time; the manifest still lists the clips in the order the
// dataset gives them, written and kept alike, and a resumed run keeps the shards it finds.
TEST(ExtractorOrder, ManyShardsInFlightAreRecordedInClipOrder) {
  const auto root =
      fs::temp_directory_path() / ("vidprobe_extractor_order_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  ASSERT_EQ(test_support::run_vidprobe("render --family objects --clips 9 --frames 3 --size 32 "
                                       "--seed 4 --out '" +
                                           (root / "data").string() + "'",
                                       root / "render.log"),
            0)
      << read_file(root / "render.log");
  ExtractOptions o;
  o.backbone = "pixels";
  o.dataset_root = root / "data";
  o.frames = 3;
  o.gt_size = 16;
  o.cache_dtype = torch::kFloat32;
  o.out_dir = root / "cache";
  o.loader_threads = 3;
  const auto first = extract_features(o);
  ASSERT_EQ(first.clips_written, 9);
  EXPECT_FALSE(first.pinned_input);  // pinned memory is for an input bound to a GPU
  const auto written = FeatureCache::open(o.out_dir).clip_ids();
  ASSERT_EQ(written.size(), 9u);
  auto sorted = written;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(written, sorted);  // the synthetic reader gives its clips in name order

  for (const std::size_t gone : {1, 4, 5, 8})
    fs::remove(root / "cache" / "clips" / (written[gone] + ".safetensors"));
  fs::remove(root / "cache" / "manifest.json");
  const auto resumed = extract_features(o);
  EXPECT_EQ(resumed.clips_written, 4);
  EXPECT_EQ(resumed.clips_skipped, 5);
  EXPECT_EQ(FeatureCache::open(o.out_dir).clip_ids(), written);
  fs::remove_all(root);
}

TEST_F(ExtractorTest, OptionsABackboneDoesNotTakeAreRefusedByName) {
  auto o = options("pixels", "refused");
  o.backbone_options["noise_draws"] = "4";
  try {
    extract_features(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("backbone 'pixels' has no option 'noise_draws'"));
  }
  auto timestep = options("pixels", "refused");
  timestep.point.timestep = 500;
  try {
    extract_features(timestep);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("--timestep 500 means nothing for backbone 'pixels'"));
  }
  auto weights = options("random-vit", "refused");
  weights.weights = "model.safetensors";
  try {
    extract_features(weights);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("backbone 'random-vit' takes no --weights"));
  }
  EXPECT_FALSE(fs::exists(root_ / "refused"));
}

}  // namespace
}  // namespace vidprobe::features
