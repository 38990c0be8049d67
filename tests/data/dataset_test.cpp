#include "vidprobe/data/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "data/dataset_test_util.h"
#include "vidprobe/core/error.h"
#include "vidprobe/data/split.h"
#include "vidprobe/data/synthetic_format.h"

namespace vidprobe {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

std::vector<std::string> numbered_ids(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back("scene" + std::to_string(i));
  return ids;
}

TEST(DatasetSplit, TrainAndTestPartitionTheIdsAtTheExactRatio) {
  const auto ids = numbered_ids(100);
  const auto train = hash_split(ids, Split::kTrain, 0.9, 0);
  const auto test = hash_split(ids, Split::kTest, 0.9, 0);
  EXPECT_EQ(train.size(), 90u);
  EXPECT_EQ(test.size(), 10u);
  std::vector<std::string> both = train;
  both.insert(both.end(), test.begin(), test.end());
  std::sort(both.begin(), both.end());
  auto sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(both, sorted);
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end()));
  EXPECT_EQ(hash_split(ids, Split::kAll, 0.9, 0), sorted);
}

TEST(DatasetSplit, DependsOnTheIdSetAndSeedButNotOnOrder) {
  auto ids = numbered_ids(50);
  const auto test = hash_split(ids, Split::kTest, 0.8, 3);
  std::reverse(ids.begin(), ids.end());
  EXPECT_EQ(hash_split(ids, Split::kTest, 0.8, 3), test);
  EXPECT_NE(hash_split(ids, Split::kTest, 0.8, 4), test);
  EXPECT_EQ(hash_split(ids, Split::kTest, 1.0, 3).size(), 0u);
  EXPECT_EQ(hash_split(ids, Split::kTrain, 0.0, 3).size(), 0u);
}

TEST(DatasetSplit, RejectsValAndBadRatiosAndNames) {
  EXPECT_THAT([] { hash_split(numbered_ids(3), Split::kVal, 0.9, 0); },
              ThrowsMessage<Error>(HasSubstr("'val'")));
  EXPECT_THROW(hash_split(numbered_ids(3), Split::kTrain, 1.5, 0), Error);
  EXPECT_EQ(parse_split("test"), Split::kTest);
  EXPECT_THAT([] { parse_split("training"); }, ThrowsMessage<Error>(HasSubstr("'training'")));
}

TEST(Dataset, ClipIdsAreFileNameSafe) {
  const std::vector<int> indices{3, 17, 40};
  EXPECT_EQ(clip_id("apple/110_13051_23361", indices), "apple--110_13051_23361@3-17-40");
  EXPECT_EQ(clip_id("scene", std::vector<int>{0}), "scene@0");
  std::vector<int> whole(81);
  for (int i = 0; i < 81; ++i) whole[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(clip_id("scene", whole), "scene@0..80");
  EXPECT_EQ(clip_id("scene", std::vector<int>{1, 2, 4, 5, 6, 9}), "scene@1-2-4..6-9");
}

TEST(Dataset, UnknownKindIsNamed) {
  EXPECT_THAT([] { open_dataset("scannet", "/nonexistent"); },
              ThrowsMessage<Error>(HasSubstr("'scannet'")));
}

Clip synthetic_clip(const std::string& id, int frames, int width, int height) {
  Clip clip;
  clip.id = id;
  for (int i = 0; i < frames; ++i) {
    Frame frame;
    frame.camera.width = width;
    frame.camera.height = height;
    frame.camera.K = {20.0, 0, width / 2.0 - 0.5, 0, 20.0, height / 2.0 - 0.5, 0, 0, 1};
    frame.camera.cam_from_world = {1, 0, 0, 0.1 * i, 0, 1, 0, 0, 0, 0, 1, 2.0};
    frame.rgb = testing::coordinate_image(width, height);
    frame.depth = ImageF32(width, height, 1, 2.0f + i);
    frame.valid = ImageU8(width, height, 1, 1);
    clip.frames.push_back(std::move(frame));
  }
  clip.meta = {{"scene_seed", 42}};
  return clip;
}

TEST(Dataset, SyntheticClipsSampleAndResizeThroughTheCommonInterface) {
  const auto root = testing::fresh_temp_dir("dataset_synthetic");
  for (int i = 0; i < 3; ++i)
    write_synthetic_clip(root, synthetic_clip("clip" + std::to_string(i), 6, 32, 24));
  DatasetOptions options;
  auto dataset = open_dataset("synthetic", root, options);
  EXPECT_EQ(dataset->kind(), "synthetic");
  ASSERT_EQ(dataset->sequences(), (std::vector<std::string>{"clip0", "clip1", "clip2"}));
  EXPECT_EQ(dataset->num_frames("clip1"), 6);

  const ClipSampling random{ClipSamplingMode::kRandom, 4, 1, 0, 7};
  const Clip a = dataset->sample_clip("clip1", random);
  const Clip b = dataset->sample_clip("clip1", random);
  ASSERT_EQ(a.frames.size(), 4u);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.meta["frame_indices"], b.meta["frame_indices"]);
  EXPECT_EQ(a.meta["sampling"]["mode"], "random");
  EXPECT_EQ(a.meta["reader"]["scene_seed"], 42);
  const auto indices = a.meta["frame_indices"].get<std::vector<int>>();
  for (std::size_t i = 0; i < indices.size(); ++i)
    EXPECT_EQ(a.frames[i].depth.at(0, 0), 2.0f + indices[i]);  // the frames asked for

  const Clip uniform = dataset->sample_clip("clip0", {ClipSamplingMode::kUniform, 3});
  EXPECT_EQ(uniform.id, "clip0@0-3-5");

  options.resize = ResizeSpec{16, 16, 1};
  const Clip resized = open_dataset("synthetic", root, options)->load_clip("clip2", {0, 5});
  for (const Frame& frame : resized.frames) {
    EXPECT_EQ(frame.rgb.width, 16);
    EXPECT_EQ(frame.depth.height, 16);
    // 32x24 -> 21x16 (scale 2/3, rounded) -> centre crop of 16 columns at x0 = 2.
    EXPECT_NEAR(frame.camera.K[0], 20.0 * 21.0 / 32.0, 1e-12);
    EXPECT_NEAR(frame.camera.K[2], 21.0 / 32.0 * 16.0 - 0.5 - 2.0, 1e-12);
  }
  EXPECT_EQ(resized.meta["native_size"], nlohmann::json({32, 24}));

  EXPECT_THAT(
      [&] {
        dataset->load_clip("clip0", {0, 6});
      },
      ThrowsMessage<Error>(HasSubstr("frame index 6")));
  EXPECT_THAT([&] { dataset->num_frames("clip9"); }, ThrowsMessage<Error>(HasSubstr("'clip9'")));
  EXPECT_THAT(
      [&] {
        dataset->sample_clip("clip0", {ClipSamplingMode::kRandom, 7});
      },
      ThrowsMessage<Error>(HasSubstr("6 frames")));

  options = {};
  options.split = Split::kTest;
  options.train_ratio = 2.0 / 3.0;
  EXPECT_EQ(open_dataset("synthetic", root, options)->sequences().size(), 1u);
  fs::remove_all(root);
}

TEST(Dataset, EveryLoadedCameraIsValidatedNamingTheFrame) {
  const auto root = testing::fresh_temp_dir("dataset_bad_camera");
  Clip clip = synthetic_clip("clip0", 3, 16, 12);
  // Frame 2's rotation scaled by 1.01: readable, but not a camera-from-world rotation.
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t c = 0; c < 3; ++c) clip.frames[2].camera.cam_from_world[r * 4 + c] *= 1.01;
  write_synthetic_clip(root, clip);
  auto dataset = open_dataset("synthetic", root);
  EXPECT_NO_THROW(dataset->load_clip("clip0", {0, 1}));
  EXPECT_THAT(
      [&] {
        dataset->load_clip("clip0", {0, 2});
      },
      ThrowsMessage<Error>(
          AllOf(HasSubstr("rgb/000002.png"), HasSubstr("'clip0'"), HasSubstr("not orthonormal"))));
  fs::remove_all(root);
}

}  // namespace
}  // namespace vidprobe
