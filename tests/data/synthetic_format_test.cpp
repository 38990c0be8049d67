#include "vidprobe/data/synthetic_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SyntheticFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test_support::fresh_temp_dir(
        std::string("synthetic_format_") +
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

// A clip with awkward values: non-round floats, denormal-free tiny depths, invalid pixels.
Clip make_clip(const std::string& id, int frames, int w, int h) {
  Clip clip;
  clip.id = id;
  clip.meta = {{"seed", 12345}, {"note", "test"}};
  for (int f = 0; f < frames; ++f) {
    Frame frame;
    frame.camera.width = w;
    frame.camera.height = h;
    frame.camera.K = {100.0 / 3.0, 0, (w - 1) / 2.0, 0, 100.0 / 7.0, (h - 1) / 2.0, 0, 0, 1};
    for (int k = 0; k < 12; ++k)
      frame.camera.cam_from_world[k] = std::sin(0.1 * (k + 1) * (f + 1)) / 3.0;
    frame.rgb = ImageU8(w, h, 3);
    frame.depth = ImageF32(w, h, 1);
    frame.valid = ImageU8(w, h, 1);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        for (int c = 0; c < 3; ++c)
          frame.rgb.at(x, y, c) = static_cast<std::uint8_t>((x * 31 + y * 17 + c * 101 + f) % 256);
        const bool valid = (x + y + f) % 5 != 0;
        frame.valid.at(x, y) = valid ? 1 : 0;
        frame.depth.at(x, y) =
            valid ? 0.1f + static_cast<float>(x * h + y) / 7.0f + 1e-5f * static_cast<float>(f)
                  : 0.0f;
      }
    }
    clip.frames.push_back(std::move(frame));
  }
  return clip;
}

TEST_F(SyntheticFormatTest, RoundTripIsExact) {
  const Clip clip = make_clip("objects_00003", 3, 11, 6);
  write_synthetic_clip(root_, clip);
  const Clip back = read_synthetic_clip(root_ / "objects_00003");
  EXPECT_EQ(back.id, clip.id);
  EXPECT_EQ(back.meta, clip.meta);
  ASSERT_EQ(back.frames.size(), clip.frames.size());
  for (std::size_t f = 0; f < clip.frames.size(); ++f) {
    EXPECT_EQ(back.frames[f].rgb.pixels, clip.frames[f].rgb.pixels);
    EXPECT_EQ(back.frames[f].depth.pixels, clip.frames[f].depth.pixels);  // bitwise float equality
    EXPECT_EQ(back.frames[f].valid.pixels, clip.frames[f].valid.pixels);
    EXPECT_EQ(back.frames[f].camera.K, clip.frames[f].camera.K);
    EXPECT_EQ(back.frames[f].camera.cam_from_world, clip.frames[f].camera.cam_from_world);
    EXPECT_EQ(back.frames[f].camera.width, 11);
    EXPECT_EQ(back.frames[f].camera.height, 6);
  }
  const auto json = read_synthetic_clip_json(root_ / "objects_00003");
  EXPECT_EQ(json["format_version"], kSyntheticFormatVersion);
}

TEST_F(SyntheticFormatTest, DepthFileIsRawLittleEndianFloat32) {
  write_synthetic_clip(root_, make_clip("c", 1, 4, 3));
  const std::string bytes = read_file(root_ / "c" / "depth" / "000000.f32");
  ASSERT_EQ(bytes.size(), 4u * 3u * 4u);
  // Pixel (1, 0) is valid: 0.1 + (1 * 3 + 0) / 7.
  const float expected = 0.1f + 3.0f / 7.0f;
  std::uint32_t bits = 0;
  for (int b = 3; b >= 0; --b) bits = (bits << 8) | static_cast<unsigned char>(bytes[4 + b]);
  float value;
  std::memcpy(&value, &bits, 4);
  EXPECT_EQ(value, expected);
}

TEST_F(SyntheticFormatTest, ListsOnlyCompleteClipsSorted) {
  write_synthetic_clip(root_, make_clip("scenes_00001", 1, 4, 4));
  write_synthetic_clip(root_, make_clip("scenes_00000", 1, 4, 4));
  // An unfinished clip: a temporary sibling with everything in it, including clip.json.
  fs::copy(root_ / "scenes_00000", temporary_sibling(root_ / "scenes_00002"),
           fs::copy_options::recursive);
  fs::create_directories(root_ / "scenes_00003");  // a directory without clip.json
  std::ofstream(root_ / "stray_file.txt") << "x";
  EXPECT_EQ(list_synthetic_clips(root_),
            (std::vector<std::string>{"scenes_00000", "scenes_00001"}));
  EXPECT_TRUE(synthetic_clip_exists(root_, "scenes_00001"));
  EXPECT_FALSE(synthetic_clip_exists(root_, "scenes_00003"));
}

TEST_F(SyntheticFormatTest, FailedWriteLeavesNoClip) {
  Clip clip = make_clip("broken", 2, 4, 4);
  clip.frames[1].depth = ImageF32(3, 4, 1);  // wrong size
  EXPECT_THROW(write_synthetic_clip(root_, clip), Error);
  EXPECT_TRUE(list_synthetic_clips(root_).empty());
  EXPECT_TRUE(fs::is_empty(root_));
}

TEST_F(SyntheticFormatTest, TruncatedDepthNamesTheFile) {
  write_synthetic_clip(root_, make_clip("c", 2, 5, 4));
  const fs::path depth = root_ / "c" / "depth" / "000001.f32";
  const std::string bytes = read_file(depth);
  write_file_atomically(depth, std::string_view(bytes).substr(0, bytes.size() - 3));
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("000001.f32")));
}

// Pseudo-GT clips carry VGGT's continuous confidence; rendered ones carry none.
Clip with_confidence(Clip clip) {
  for (std::size_t f = 0; f < clip.frames.size(); ++f) {
    auto& frame = clip.frames[f];
    frame.confidence = ImageF32(frame.camera.width, frame.camera.height, 1);
    for (std::size_t p = 0; p < frame.confidence.pixels.size(); ++p)
      frame.confidence.pixels[p] = 1.0f + static_cast<float>(p * 7 + f) / 3.0f;
  }
  return clip;
}

TEST_F(SyntheticFormatTest, ConfidenceRoundTripsBitExactAndIsAbsentWhenNotWritten) {
  const Clip clip = with_confidence(make_clip("c", 2, 5, 4));
  write_synthetic_clip(root_, clip);
  const Clip back = read_synthetic_clip(root_ / "c");
  for (std::size_t f = 0; f < clip.frames.size(); ++f)
    EXPECT_EQ(back.frames[f].confidence.pixels, clip.frames[f].confidence.pixels);
  const auto record = read_synthetic_clip_json(root_ / "c")["frames"][1];
  EXPECT_EQ(record["confidence"], "confidence/000001.f32");
  EXPECT_TRUE(record.contains("confidence_crc32"));

  write_synthetic_clip(root_, make_clip("plain", 2, 5, 4));
  EXPECT_FALSE(fs::exists(root_ / "plain" / "confidence"));
  EXPECT_FALSE(read_synthetic_clip_json(root_ / "plain")["frames"][0].contains("confidence"));
  EXPECT_TRUE(read_synthetic_clip(root_ / "plain").frames[0].confidence.empty());
}

TEST_F(SyntheticFormatTest, ConfidenceOnSomeFramesOnlyIsRefusedOnWriteAndRead) {
  Clip clip = with_confidence(make_clip("c", 2, 5, 4));
  clip.frames[1].confidence = {};
  EXPECT_THAT([&] { write_synthetic_clip(root_, clip); },
              ::testing::ThrowsMessage<Error>(HasSubstr("some frames have a confidence")));
  EXPECT_FALSE(fs::exists(root_ / "c"));

  write_synthetic_clip(root_, with_confidence(make_clip("c", 2, 5, 4)));
  auto document = read_synthetic_clip_json(root_ / "c");
  document["frames"][1].erase("confidence");
  write_file_atomically(root_ / "c" / "clip.json", document.dump());
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("'confidence' is on 1 of 2 frames")));
}

TEST_F(SyntheticFormatTest, CorruptOrNegativeConfidenceNamesTheFile) {
  Clip clip = with_confidence(make_clip("c", 2, 5, 4));
  write_synthetic_clip(root_, clip);
  const fs::path file = root_ / "c" / "confidence" / "000001.f32";
  std::string bytes = read_file(file);
  bytes[5] = static_cast<char>(bytes[5] ^ 0x10);
  write_file_atomically(file, bytes);
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("confidence_crc32")));

  clip.frames[0].confidence.pixels[3] = -1.0f;
  write_synthetic_clip(root_, clip);
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("confidence/000000.f32")));
}

TEST_F(SyntheticFormatTest, CorruptDepthNamesTheFile) {
  write_synthetic_clip(root_, make_clip("c", 2, 5, 4));
  const fs::path depth = root_ / "c" / "depth" / "000000.f32";
  std::string bytes = read_file(depth);
  bytes[9] = static_cast<char>(bytes[9] ^ 0x10);  // same size, one bit flipped
  write_file_atomically(depth, bytes);
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("000000.f32")));
}

TEST_F(SyntheticFormatTest, MissingOrBadClipJsonNamesTheFile) {
  write_synthetic_clip(root_, make_clip("c", 1, 4, 4));
  fs::remove(root_ / "c" / "clip.json");
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("clip.json")));
  std::ofstream(root_ / "c" / "clip.json") << "{ not json";
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("clip.json")));
  std::ofstream(root_ / "c" / "clip.json")
      << R"({"format": "vidprobe-synthetic-clip", "format_version": 99})";
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("format_version")));
}

TEST_F(SyntheticFormatTest, MissingOrMismatchedImagesNameTheFile) {
  write_synthetic_clip(root_, make_clip("c", 1, 4, 4));
  write_png(root_ / "c" / "mask" / "000000.png", ImageU8(4, 3, 1));
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("mask/000000.png")));
  fs::remove(root_ / "c" / "rgb" / "000000.png");
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("rgb/000000.png")));
}

TEST_F(SyntheticFormatTest, RejectsBadClipIds) {
  EXPECT_THROW(write_synthetic_clip(root_, make_clip("../escape", 1, 4, 4)), Error);
  EXPECT_THROW(write_synthetic_clip(root_, make_clip("", 1, 4, 4)), Error);
}

// Found by tools/hostile_campaign.py: clip.json fields that disagree with the clip (its id, frame
// count, frame indices) were ignored, and frame files could be read from anywhere on the disk.
TEST_F(SyntheticFormatTest, ClipJsonThatDisagreesWithItsClipOrPointsOutsideItIsRefused) {
  write_synthetic_clip(root_, make_clip("c", 2, 4, 4));
  const auto file = root_ / "c" / "clip.json";
  const auto original = nlohmann::json::parse(read_file(file));
  const auto expect_refused = [&](const std::function<void(nlohmann::json&)>& change,
                                  const std::string& fragment) {
    auto document = original;
    change(document);
    write_file_atomically(file, document.dump());
    EXPECT_THAT([&] { read_synthetic_clip(root_ / "c"); },
                ::testing::ThrowsMessage<Error>(
                    ::testing::AllOf(HasSubstr("clip.json"), HasSubstr(fragment))));
  };
  expect_refused([](auto& d) { d["id"] = "other"; }, "'id'");
  expect_refused([](auto& d) { d["num_frames"] = 99; }, "'num_frames'");
  expect_refused([](auto& d) { d["num_frames"] = -1; }, "'num_frames'");
  expect_refused([](auto& d) { d["frames"] = nlohmann::json::array(); }, "'frames'");
  expect_refused([](auto& d) { d["frames"][1]["index"] = 5; }, "'index'");
  expect_refused([](auto& d) { d["frames"][0]["rgb"] = "/etc/hostname"; }, "'rgb'");
  expect_refused([](auto& d) { d["frames"][0]["depth"] = "../c/depth/000000.f32"; }, "'depth'");
  write_file_atomically(file, original.dump());
  EXPECT_EQ(read_synthetic_clip(root_ / "c").frames.size(), 2u);
}

// The frames extraction samples (a subset, in order, an index repeated) read alone are the same
// frames as in the whole clip; a frame left out is not read at all (its file may be missing).
TEST_F(SyntheticFormatTest, ReadingSomeFramesGivesThoseFramesOfTheWholeClip) {
  write_synthetic_clip(root_, make_clip("c", 4, 9, 5));
  const Clip whole = read_synthetic_clip(root_ / "c");
  fs::remove(root_ / "c" / "rgb" / "000001.png");
  const std::vector<int> indices{0, 2, 3, 3};
  const Clip some = read_synthetic_clip(root_ / "c", indices);
  EXPECT_EQ(some.id, whole.id);
  EXPECT_EQ(some.meta, whole.meta);
  ASSERT_EQ(some.frames.size(), indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const Frame& expected = whole.frames[static_cast<std::size_t>(indices[i])];
    const Frame& frame = some.frames[i];
    EXPECT_EQ(frame.rgb.pixels, expected.rgb.pixels) << i;
    EXPECT_EQ(frame.depth.pixels, expected.depth.pixels) << i;
    EXPECT_EQ(frame.valid.pixels, expected.valid.pixels) << i;
    EXPECT_EQ(frame.camera.K, expected.camera.K) << i;
    EXPECT_EQ(frame.camera.cam_from_world, expected.camera.cam_from_world) << i;
    EXPECT_EQ(frame.source, expected.source) << i;
  }
  EXPECT_THAT(
      [&] {
        read_synthetic_clip(root_ / "c", std::vector<int>{0, 4});
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("frame index 4 out of range")));
  EXPECT_THAT([&] { read_synthetic_clip(root_ / "c", std::vector<int>{1}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("000001.png")));
}

}  // namespace
}  // namespace vidprobe
