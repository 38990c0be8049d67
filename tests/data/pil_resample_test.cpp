// Bit-exactness of the PIL resampler and the processor specs against pixels made by Pillow and
// transformers themselves (tools/make_resize_fixtures.py writes tests/fixtures/resize/).
#include "vidprobe/data/pil_resample.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "test_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/data/image_processor.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/image.h"

namespace vidprobe {
namespace {

namespace fs = std::filesystem;
using test_support::error_message;
using ::testing::AllOf;
using ::testing::HasSubstr;

const fs::path kFixtures = fs::path(VIDPROBE_TEST_DATA_DIR) / "resize";

const nlohmann::json& manifest() {
  static const nlohmann::json cases = read_json_file(kFixtures / "cases.json");
  return cases;
}

ImageU8 fixture_image(const std::string& name) {
  return read_png_u8(kFixtures / (name + ".png"));
}

// "" when equal, else what differs (size, or the largest difference and how many values differ).
std::string difference(const ImageU8& ours, const ImageU8& expected) {
  if (ours.width != expected.width || ours.height != expected.height ||
      ours.channels != expected.channels) {
    return "size " + std::to_string(ours.width) + "x" + std::to_string(ours.height) + "x" +
           std::to_string(ours.channels) + ", expected " + std::to_string(expected.width) + "x" +
           std::to_string(expected.height) + "x" + std::to_string(expected.channels);
  }
  int max_abs = 0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < ours.pixels.size(); ++i) {
    const int diff = std::abs(int{ours.pixels[i]} - int{expected.pixels[i]});
    max_abs = std::max(max_abs, diff);
    count += diff != 0;
  }
  if (count == 0) return "";
  return "max abs diff " + std::to_string(max_abs) + " in " + std::to_string(count) + " of " +
         std::to_string(ours.pixels.size()) + " values";
}

std::string fnv1a64(const ImageU8& image) {
  std::uint64_t hash = 0xCBF29CE484222325ull;
  for (std::uint8_t byte : image.pixels) hash = (hash ^ byte) * 0x100000001B3ull;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

// tools/make_resize_fixtures.py pattern_960x540 (uint32 arithmetic wraps alike in numpy).
ImageU8 pattern_960x540() {
  ImageU8 image(960, 540, 3);
  for (std::uint32_t y = 0; y < 540; ++y)
    for (std::uint32_t x = 0; x < 960; ++x)
      for (std::uint32_t c = 0; c < 3; ++c) {
        const std::uint32_t mixed = (x * 73856093u) ^ (y * 19349663u) ^ (c * 83492791u);
        const std::uint32_t noise = (mixed >> 11) & 63u;
        const std::uint32_t smooth = (x / 5 + y / 3 + c * 40) % 192;
        image.at(x, y, c) = static_cast<std::uint8_t>(noise + smooth);
      }
  return image;
}

PillowRelease release_of(const std::string& version) {
  if (version == "13.0.0") return PillowRelease::k13;
  if (version == "12.3.0") return PillowRelease::k12_2;
  if (version == "12.1.1") return PillowRelease::kUpTo12_1;
  throw Error("no PillowRelease for Pillow " + version);
}

TEST(PilResample, MatchesPillowExactlyForEveryFilterSizeAndRelease) {
  const auto& cases = manifest().at("resample");
  std::set<std::string> filters, releases;
  for (const auto& c : cases) {
    const std::string expected_name = c.at("expected");
    SCOPED_TRACE(expected_name);
    const ImageU8 input = fixture_image("input_" + c.at("input").get<std::string>());
    const PilFilter filter = parse_pil_filter(c.at("filter").get<std::string>());
    const std::string version = c.at("pillow");
    const ImageU8 ours =
        pil_resize(input, c.at("width"), c.at("height"), filter, release_of(version));
    EXPECT_EQ(difference(ours, fixture_image(expected_name)), "");
    filters.insert(pil_filter_name(filter));
    releases.insert(version);
  }
  // A truncated manifest must not pass by checking nothing.
  EXPECT_GE(cases.size(), 100u);
  EXPECT_EQ(filters, (std::set<std::string>{"box", "bilinear", "hamming", "bicubic", "lanczos"}));
  EXPECT_EQ(releases, (std::set<std::string>{"12.1.1", "12.3.0", "13.0.0"}));
}

// The fixtures of the releases differ where the pass order does, so following the wrong
// release's order is caught (not only a wrong kernel).
TEST(PilResample, PassOrderChangesPixelsWhereReleasesDiffer) {
  const ImageU8 input = fixture_image("input_random_rgb_23x17");
  const ImageU8 pillow13 = pil_resize(input, 97, 3, PilFilter::kLanczos, PillowRelease::k13);
  const ImageU8 pillow12 = pil_resize(input, 97, 3, PilFilter::kLanczos, PillowRelease::k12_2);
  EXPECT_NE(difference(pillow13, pillow12), "");
  EXPECT_EQ(difference(pillow12, fixture_image("pillow12.3.0_random_rgb_23x17_to_97x3_lanczos")),
            "");
}

TEST(PilResample, SameSizeIsACopy) {
  const ImageU8 input = fixture_image("input_random_rgb_23x17");
  EXPECT_EQ(pil_resize(input, 23, 17, PilFilter::kLanczos).pixels, input.pixels);
}

TEST(PilResample, RefusesBadSizesNamingThem) {
  const ImageU8 input(5, 4, 3, 7);
  EXPECT_THAT(error_message([&] { pil_resize(input, 0, 3, PilFilter::kBicubic); }),
              HasSubstr("0x3"));
  EXPECT_THAT(error_message([&] { pil_resize(input, 8, -2, PilFilter::kBicubic); }),
              HasSubstr("8x-2"));
  EXPECT_THAT(error_message([&] { pil_resize(ImageU8{}, 8, 2, PilFilter::kBilinear); }),
              HasSubstr("empty"));
  EXPECT_THAT(error_message([&] { pil_resize(ImageU8(4, 4, 5), 8, 2, PilFilter::kBilinear); }),
              HasSubstr("got 5"));
  EXPECT_THAT(error_message([] { parse_pil_filter("nearest"); }), HasSubstr("'nearest'"));
}

ImageProcessorSpec resized_spec(const nlohmann::json& c) {
  ImageProcessorSpec spec = image_processor_spec(c.at("spec").get<std::string>());
  spec.shortest_edge = c.at("shortest_edge");
  spec.center_crop = Size2{c.at("crop").at(0), c.at("crop").at(1)};
  return spec;
}

TEST(ImageProcessor, MatchesTransformersProcessorsAtSmallSizes) {
  const auto& cases = manifest().at("processor");
  for (const auto& c : cases) {
    const std::string expected_name = c.at("expected");
    SCOPED_TRACE(expected_name);
    const ImageProcessorSpec spec = resized_spec(c);
    const ImageU8 input = fixture_image("input_" + c.at("input").get<std::string>());
    const ProcessorGeometry geometry = processor_geometry(spec, {input.width, input.height});
    EXPECT_EQ(geometry.resized, (Size2{c.at("resized").at(0), c.at("resized").at(1)}));
    EXPECT_EQ(difference(apply_processor(spec, input), fixture_image(expected_name)), "");
  }
  EXPECT_GE(cases.size(), 5u);
}

TEST(ImageProcessor, ShortestEdgeSizesMatchTransformers) {
  ImageProcessorSpec spec = image_processor_spec("hf-dinov2");
  spec.center_crop.reset();
  const auto& cases = manifest().at("shortest_edge_sizes");
  for (const auto& c : cases) {
    const Size2 input{c.at("input").at(0), c.at("input").at(1)};
    spec.shortest_edge = c.at("shortest_edge");
    SCOPED_TRACE(std::to_string(input.width) + "x" + std::to_string(input.height) + " to " +
                 std::to_string(spec.shortest_edge));
    EXPECT_EQ(processor_geometry(spec, input).resized,
              (Size2{c.at("resized").at(0), c.at("resized").at(1)}));
  }
  EXPECT_GE(cases.size(), 10u);
}

TEST(ImageProcessor, NamedSpecsMatchTheReferenceOnARealSizeFrame) {
  const ImageU8 frame = pattern_960x540();
  ASSERT_EQ(fnv1a64(frame), manifest().at("pattern_960x540_fnv1a64").get<std::string>());
  std::set<std::string> checked;
  for (const auto& c : manifest().at("full_size")) {
    const std::string name = c.at("spec");
    SCOPED_TRACE(name);
    const ImageU8 ours = apply_processor(image_processor_spec(name), frame);
    EXPECT_EQ(ours.width, c.at("width").get<int>());
    EXPECT_EQ(ours.height, c.at("height").get<int>());
    EXPECT_EQ(fnv1a64(ours), c.at("fnv1a64").get<std::string>());
    checked.insert(name);
  }
  const auto names = image_processor_names();
  EXPECT_EQ(checked, std::set<std::string>(names.begin(), names.end()));
}

TEST(ImageProcessor, CameraFollowsTheResizeAndTheCentreCrop) {
  Camera camera;
  camera.width = 960;
  camera.height = 540;
  camera.K = {500.0, 0.0, 479.5, 0.0, 510.0, 269.5, 0.0, 0.0, 1.0};
  // 960 x 540 -> 455 x 256 (int(256 * 960 / 540) = 455), crop 224 x 224 at (115, 16).
  const ProcessorGeometry geometry =
      processor_geometry(image_processor_spec("hf-dinov2"), {camera.width, camera.height});
  EXPECT_EQ(geometry.resized, (Size2{455, 256}));
  EXPECT_EQ(geometry.crop_x0, 115);
  EXPECT_EQ(geometry.crop_y0, 16);
  const Camera out = apply_processor(image_processor_spec("hf-dinov2"), camera);
  const double sx = 455.0 / 960.0, sy = 256.0 / 540.0;
  EXPECT_EQ(out.width, 224);
  EXPECT_EQ(out.height, 224);
  EXPECT_DOUBLE_EQ(out.K[0], 500.0 * sx);
  EXPECT_DOUBLE_EQ(out.K[4], 510.0 * sy);
  EXPECT_DOUBLE_EQ(out.K[2], sx * (479.5 + 0.5) - 0.5 - 115);
  EXPECT_DOUBLE_EQ(out.K[5], sy * (269.5 + 0.5) - 0.5 - 16);

  const Camera squashed = apply_processor(image_processor_spec("vidfm3d-wan"), camera);
  EXPECT_EQ(squashed.width, 832);
  EXPECT_EQ(squashed.height, 480);
  EXPECT_DOUBLE_EQ(squashed.K[2], 832.0 / 960.0 * 480.0 - 0.5);
}

TEST(ImageProcessor, RefusesBadInputNamingIt) {
  EXPECT_THAT(error_message([] { image_processor_spec("hf-clip"); }),
              AllOf(HasSubstr("'hf-clip'"), HasSubstr("vidfm3d-wan")));
  const ImageProcessorSpec& dinov2 = image_processor_spec("hf-dinov2");
  EXPECT_THAT(error_message([&] { processor_geometry(dinov2, {0, 540}); }), HasSubstr("0x540"));
  EXPECT_THAT(error_message([&] { processor_geometry(dinov2, {960, -1}); }), HasSubstr("960x-1"));
  ImageProcessorSpec big_crop = dinov2;
  big_crop.center_crop = Size2{224, 300};
  EXPECT_THAT(error_message([&] {
                processor_geometry(big_crop, {960, 540});
              }),
              AllOf(HasSubstr("224x300"), HasSubstr("455x256")));
  ImageProcessorSpec no_edge = dinov2;
  no_edge.shortest_edge = 0;
  EXPECT_THAT(error_message([&] { processor_geometry(no_edge, {960, 540}); }), HasSubstr("got 0"));
  ImageProcessorSpec no_size = image_processor_spec("vidfm3d-wan");
  no_size.size = Size2{0, 480};
  EXPECT_THAT(error_message([&] { processor_geometry(no_size, {960, 540}); }), HasSubstr("0x480"));
}

}  // namespace
}  // namespace vidprobe
