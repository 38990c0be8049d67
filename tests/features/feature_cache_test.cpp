#include "vidprobe/features/feature_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::features {
namespace {
namespace fs = std::filesystem;

FeatureShard make_shard(const std::string& id, int T = 4) {
  torch::manual_seed(7);
  FeatureShard shard;
  shard.clip_id = id;
  shard.features = torch::randn({T, 8, 2, 3}).to(torch::kFloat16);
  shard.images = torch::randint(0, 255, {T, 3, 8, 12}).to(torch::kUInt8);
  shard.depth = torch::rand({T, 8, 12}) + 1;
  shard.valid = torch::rand({T, 8, 12}).gt(0.2);
  shard.extrinsics = torch::eye(4).slice(0, 0, 3).expand({T, 3, 4}).contiguous();
  shard.intrinsics = torch::eye(3).expand({T, 3, 3}).contiguous();
  shard.meta = {{"backbone", "pixels"}, {"layer", 0}};
  return shard;
}

fs::path temp_dir(const std::string& name) {
  auto dir =
      fs::temp_directory_path() / ("vidprobe_cache_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

TEST(FeatureCache, ShardRoundTripKeepsTensorsAndMetadata) {
  const auto dir = temp_dir("roundtrip");
  const auto shard = make_shard("clip_a");
  write_shard(dir, shard);
  const auto back = read_shard(dir / "clips" / "clip_a.safetensors");
  EXPECT_EQ(back.clip_id, "clip_a");
  EXPECT_EQ(back.features.scalar_type(), torch::kFloat16);
  EXPECT_TRUE(torch::equal(back.features, shard.features));
  EXPECT_TRUE(torch::equal(back.images, shard.images));
  EXPECT_TRUE(torch::equal(back.depth, shard.depth));
  EXPECT_TRUE(torch::equal(back.valid, shard.valid));
  EXPECT_EQ(back.meta["backbone"], "pixels");
  EXPECT_EQ(back.meta["layer"], "0");
  fs::remove_all(dir);
}

TEST(FeatureCache, RejectsInconsistentShards) {
  const auto dir = temp_dir("bad");
  auto shard = make_shard("clip_b");
  shard.depth = torch::rand({3, 8, 12});  // 3 frames of depth for 4 frames of features
  try {
    write_shard(dir, shard);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'depth'"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "clips" / "clip_b.safetensors"));
  fs::remove_all(dir);
}

// A latent-chunk layout (one map for frame 0, then one per 4 frames) with a GT confidence: stored
// once, read back, and expanded to per-frame maps by select_frames.
TEST(FeatureCache, FeatureIndexAndConfidenceRoundTripAndSelectFrames) {
  const auto dir = temp_dir("index");
  auto shard = make_shard("clip_e", 9);
  shard.features = torch::randn({3, 8, 2, 3}).to(torch::kFloat16);
  shard.feature_index = torch::tensor({0, 1, 1, 1, 1, 2, 2, 2, 2}, torch::kInt64);
  shard.confidence = torch::rand({9, 8, 12}) + 1;
  write_shard(dir, shard);
  const auto back = read_shard(dir / "clips" / "clip_e.safetensors");
  EXPECT_TRUE(torch::equal(back.feature_index, shard.feature_index));
  EXPECT_TRUE(torch::equal(back.confidence, shard.confidence));
  EXPECT_EQ(back.num_frames(), 9);

  const auto views = select_frames(back, {0, 5, 8});
  EXPECT_EQ(views.num_frames(), 3);
  EXPECT_FALSE(views.feature_index.defined());
  EXPECT_TRUE(torch::equal(views.features[1], shard.features[2]));
  EXPECT_TRUE(torch::equal(views.depth[1], shard.depth[5]));
  EXPECT_TRUE(torch::equal(views.confidence[2], shard.confidence[8]));
  EXPECT_THROW(select_frames(back, {9}), Error);

  auto orphan = shard;
  orphan.feature_index = torch::tensor({0, 1, 1, 1, 1, 2, 2, 2, -1}, torch::kInt64);
  try {
    select_frames(orphan, {8});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("frame 8 has no features"), std::string::npos) << e.what();
  }
  auto broken = shard;
  broken.feature_index = torch::tensor({0, 1, 1, 1, 1, 2, 2, 2, 3}, torch::kInt64);
  try {
    write_shard(dir, broken);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'feature_index'"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(FeatureCache, OpenChecksManifestAndShards) {
  const auto dir = temp_dir("open");
  EXPECT_THROW(FeatureCache::open(dir), Error);
  write_shard(dir, make_shard("clip_c"));
  write_file_atomically(dir / "manifest.json", R"({"clips": ["clip_c", "clip_d"]})");
  try {
    FeatureCache::open(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("clip_d"), std::string::npos) << e.what();
  }
  write_file_atomically(dir / "manifest.json", R"({"clips": ["clip_c"]})");
  const auto cache = FeatureCache::open(dir);
  EXPECT_EQ(cache.clip_ids(), std::vector<std::string>{"clip_c"});
  EXPECT_EQ(cache.load("clip_c").features.size(0), 4);
  write_file_atomically(dir / "manifest.json", R"({"clips": )");
  EXPECT_THROW(FeatureCache::open(dir), Error);
  fs::remove_all(dir);
}

// A manifest whose feature_dim disagrees with a shard's channels (the hostile campaign's
// 4294967297, a valid int64) is refused when the shard is read, naming both.
TEST(FeatureCache, FeatureDimMustMatchTheShards) {
  const auto dir = temp_dir("feature_dim");
  write_shard(dir, make_shard("clip_e"));
  write_file_atomically(dir / "manifest.json", R"({"clips": ["clip_e"], "feature_dim": 8})");
  EXPECT_EQ(FeatureCache::open(dir).load("clip_e").features.size(1), 8);
  write_file_atomically(dir / "manifest.json",
                        R"({"clips": ["clip_e"], "feature_dim": 4294967297})");
  try {
    FeatureCache::open(dir).load("clip_e");
    FAIL() << "a feature_dim that no shard has was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("'feature_dim' is 4294967297"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("clip 'clip_e' has 8 feature channels"));
  }
  fs::remove_all(dir);
}

TEST(FeatureCache, AWriterRemovesShardTemporariesOfDeadProcesses) {
  const auto dir = temp_dir("stale");
  fs::create_directories(dir / "clips");
  const pid_t child = ::fork();
  if (child == 0) std::_Exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);  // the child's pid now belongs to no process
  const auto stale = dir / "clips" / ("clip_a.safetensors.tmp." + std::to_string(child) + ".0");
  const auto live = dir / "clips" / ("clip_b.safetensors.tmp." + std::to_string(::getpid()) + ".0");
  write_file_atomically(stale, "partial shard");
  write_file_atomically(live, "being written");
  CacheWriter writer(dir, {{"backbone", "pixels"}}, 8);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  fs::remove_all(dir);
}

TEST(FeatureCache, PartialCacheIsRefusedUnlessAllowed) {
  const auto dir = temp_dir("partial");
  {
    CacheWriter writer(dir, {{"backbone", "pixels"}}, 8);
    writer.expect(3);  // an extraction of 3 clips, killed after 2
    writer.write(make_shard("clip_a"));
    writer.write(make_shard("clip_b"));
  }
  const auto partial = FeatureCache::open(dir);
  EXPECT_EQ(partial.missing_clips(), 1u);
  try {
    require_complete(partial, false);
    FAIL() << "a partial cache must be refused";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(dir.string()), std::string::npos) << message;
    EXPECT_NE(message.find("1 of 3 clips are missing"), std::string::npos) << message;
    EXPECT_NE(message.find("--allow-partial"), std::string::npos) << message;
  }
  ::testing::internal::CaptureStderr();
  EXPECT_NO_THROW(require_complete(partial, true));
  const std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("1 of 3 clips are missing"), std::string::npos) << warning;

  // The resumed extraction finishes the cache.
  {
    CacheWriter writer(dir, {{"backbone", "pixels"}}, 8);
    writer.expect(3);
    EXPECT_TRUE(writer.reuse("clip_a"));
    EXPECT_TRUE(writer.reuse("clip_b"));
    writer.write(make_shard("clip_c"));
  }
  EXPECT_EQ(FeatureCache::open(dir).missing_clips(), 0u);
  EXPECT_NO_THROW(require_complete(FeatureCache::open(dir), false));
  // A manifest from before the expected count was recorded counts as complete.
  write_file_atomically(dir / "manifest.json", R"({"clips": ["clip_a"]})");
  EXPECT_EQ(FeatureCache::open(dir).missing_clips(), 0u);
  fs::remove_all(dir);
}

// The manifest is not rewritten per clip (O(clips²) over a run) but by the first record at least
// kManifestInterval after the last rewrite; flush() and the destructor complete it, and a
// moved-from writer writes nothing.
TEST(FeatureCache, ManifestIsRewrittenNowAndThenAndCompletedByFlushOrDestruction) {
  const auto dir = temp_dir("batched");
  const auto listed = [&] {
    return read_json_file(dir / "manifest.json").at("clips").get<std::vector<std::string>>();
  };
  const auto shard_ids = [](int from, int to) {
    std::vector<std::string> ids;
    for (int i = from; i < to; ++i) ids.push_back("clip_" + std::to_string(i));
    return ids;
  };
  {
    std::vector<CacheWriter> writers;
    writers.emplace_back(dir, nlohmann::json{{"backbone", "pixels"}}, 8);
    writers.front().expect(300);
    for (const auto& id : shard_ids(0, 200)) writers.front().record(id);
    // expect() has just written the manifest, so 200 records within the interval wait.
    EXPECT_TRUE(listed().empty());
    writers.front().flush();
    EXPECT_EQ(listed(), shard_ids(0, 200));
    for (const auto& id : shard_ids(200, 250)) writers.front().record(id);
    writers.reserve(writers.capacity() + 1);  // moves the writer; the moved-from one is destroyed
    EXPECT_EQ(listed(), shard_ids(0, 200));
  }
  EXPECT_EQ(listed(), shard_ids(0, 250));
  EXPECT_EQ(read_json_file(dir / "manifest.json").at("expected_clips"), 300);
  fs::remove_all(dir);
}

// Found by tools/hostile_campaign.py: a manifest of another version or with a negative
// feature_dim, and a shard holding its images as I8 or an unknown tensor, were all used.
TEST(FeatureCache, ManifestFieldsAndShardDtypesAreCheckedNamingTheKey) {
  const auto dir = temp_dir("hostile");
  write_shard(dir, make_shard("clip_c"));
  const auto expect_refused = [&](const std::string& manifest, const std::string& fragment) {
    write_file_atomically(dir / "manifest.json", manifest);
    EXPECT_THAT([&] { FeatureCache::open(dir); },
                ::testing::ThrowsMessage<Error>(::testing::AllOf(
                    ::testing::HasSubstr("manifest.json"), ::testing::HasSubstr(fragment))));
  };
  expect_refused(R"({"version": 99, "clips": ["clip_c"]})", "'version'");
  expect_refused(R"({"format": "x", "clips": ["clip_c"]})", "'format'");
  expect_refused(R"({"feature_dim": -1, "clips": ["clip_c"]})", "'feature_dim'");
  expect_refused(R"({"feature_dim": 1.5, "clips": ["clip_c"]})", "'feature_dim'");
  expect_refused(R"({"identity": 5, "clips": ["clip_c"]})", "'identity'");
  expect_refused(R"({"clips": [{"id": 1}]})", "'clips'");
  expect_refused(R"({"expected_clips": -3, "clips": ["clip_c"]})", "'expected_clips'");
  // Clip ids name shard files: a path would read outside clips/, a repeat would train twice.
  expect_refused(R"({"clips": ["../clips/clip_c"]})", "cannot name a shard file");
  expect_refused(R"({"clips": [".."]})", "cannot name a shard file");
  expect_refused(R"({"clips": [""]})", "cannot name a shard file");
  expect_refused(R"({"clips": ["clip_c", "clip_c"]})", "listed twice");
  write_file_atomically(dir / "manifest.json", R"({"version": 1, "clips": ["clip_c"]})");
  const auto cache = FeatureCache::open(dir);

  const auto shard = make_shard("clip_c");
  TensorMap tensors{{"features", shard.features},
                    {"images", shard.images.to(torch::kInt8)},  // refused, not reinterpreted
                    {"depth", shard.depth},
                    {"valid", shard.valid.to(torch::kUInt8)},
                    {"extrinsics", shard.extrinsics},
                    {"intrinsics", shard.intrinsics}};
  save_safetensors(cache.shard_path("clip_c"), tensors);
  EXPECT_THAT([&] { cache.load("clip_c"); },
              ::testing::ThrowsMessage<Error>(
                  ::testing::AllOf(::testing::HasSubstr("clip_c.safetensors"),
                                   ::testing::HasSubstr("'images'"), ::testing::HasSubstr("I8"))));
  tensors["images"] = shard.images.to(torch::kUInt8);
  tensors["zz_unexpected"] = torch::zeros({2});
  save_safetensors(cache.shard_path("clip_c"), tensors);
  EXPECT_THAT(
      [&] { cache.load("clip_c"); },
      ::testing::ThrowsMessage<Error>(::testing::HasSubstr("unknown tensor 'zz_unexpected'")));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::features
