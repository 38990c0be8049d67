#include "vidprobe/data/resize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset_test_util.h"
#include "vidprobe/core/error.h"
#include "vidprobe/data/resize_kernels.h"

namespace vidprobe {
namespace {

using testing::project;

Camera test_camera(int width, int height) {
  Camera camera;
  camera.width = width;
  camera.height = height;
  camera.K = {50.0, 0.0, width / 2.0 - 0.3, 0.0, 55.0, height / 2.0 + 0.2, 0.0, 0.0, 1.0};
  const auto R = testing::axis_angle({0.3, -1.0, 0.2}, 0.4);
  camera.cam_from_world = {R[0], R[1], R[2], 0.1, R[3], R[4], R[5], -0.2, R[6], R[7], R[8], 3.0};
  return camera;
}

// Depth whose value names its pixel, so after nearest resampling each output pixel tells which
// source pixel it came from.
ImageF32 index_depth(int width, int height) {
  ImageF32 depth(width, height, 1);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) depth.at(x, y) = static_cast<float>(1 + x + 1000 * y);
  return depth;
}

TEST(Resize, ScaledCameraMovesAKnownPointByThePixelCentreRule) {
  const Camera camera = test_camera(64, 48);
  const std::array<double, 3> point{0.2, -0.1, 0.5};
  const auto before = project(camera, point);
  const Camera scaled = scale_camera(camera, 40, 36);  // sx = 0.625, sy = 0.75
  const auto after = project(scaled, point);
  EXPECT_NEAR(after.u, 0.625 * (before.u + 0.5) - 0.5, 1e-9);
  EXPECT_NEAR(after.v, 0.75 * (before.v + 0.5) - 0.5, 1e-9);
  EXPECT_NEAR(after.z, before.z, 1e-12);
  EXPECT_EQ(scaled.cam_from_world, camera.cam_from_world);
}

TEST(Resize, CroppedCameraSubtractsTheOffset) {
  const Camera camera = test_camera(64, 48);
  const std::array<double, 3> point{-0.3, 0.2, 0.1};
  const auto before = project(camera, point);
  const auto after = project(crop_camera(camera, 5, 7, 30, 20), point);
  EXPECT_NEAR(after.u, before.u - 5, 1e-9);
  EXPECT_NEAR(after.v, before.v - 7, 1e-9);
}

TEST(Resize, BilinearResamplingFollowsThePixelCentreRule) {
  // A linear ramp is reproduced exactly by plain bilinear upscaling and by a symmetric filter at
  // an integer downscale, so each output pixel must hold the ramp's value at its source
  // coordinate (u' + 0.5) / s - 0.5. At a fractional downscale the discretely sampled triangle
  // is slightly lopsided, so there the ramp only holds to a small fraction of a pixel.
  ImageF32 ramp(40, 30, 1);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) ramp.at(x, y) = static_cast<float>(3.0 * x + 0.5 * y + 1.0);
  struct Case {
    int w, h;
    double tolerance;
  };
  for (const Case& c : {Case{100, 75, 1e-3}, Case{20, 15, 1e-3}, Case{28, 21, 0.05}}) {
    const ImageF32 out = resize_bilinear(ramp, c.w, c.h);
    const double sx = c.w / 40.0, sy = c.h / 30.0;
    // Interior only: at the border the filter is cut and the ramp is no longer reproduced.
    for (int y = 3; y < c.h - 3; ++y)
      for (int x = 3; x < c.w - 3; ++x) {
        const double u = (x + 0.5) / sx - 0.5, v = (y + 0.5) / sy - 0.5;
        ASSERT_NEAR(out.at(x, y), 3.0 * u + 0.5 * v + 1.0, c.tolerance)
            << c.w << "x" << c.h << " at " << x << "," << y;
      }
  }
}

TEST(Resize, BilinearDownscaleAveragesInsteadOfAliasing) {
  // A one-pixel checkerboard halved must come out flat grey, not a checkerboard again.
  ImageU8 checker(32, 32, 1);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) checker.at(x, y) = ((x + y) % 2) ? 200 : 0;
  const ImageU8 half = resize_bilinear(checker, 16, 16);
  for (int y = 1; y < 15; ++y)
    for (int x = 1; x < 15; ++x) EXPECT_NEAR(half.at(x, y), 100, 1);
}

TEST(Resize, NearestNeverInventsDepthValues) {
  ImageF32 depth(30, 20, 1, 2.0f);
  for (int y = 0; y < 20; ++y)
    for (int x = 13; x < 30; ++x) depth.at(x, y) = 9.0f;  // occlusion edge
  for (const auto& [w, h] : {std::pair{21, 14}, std::pair{45, 30}, std::pair{7, 5}}) {
    const ImageF32 out = resize_nearest(depth, w, h);
    for (const float value : out.pixels) EXPECT_TRUE(value == 2.0f || value == 9.0f) << value;
  }
}

TEST(Resize, TargetSizeKeepsAspectAndRoundsToPatchMultiples) {
  EXPECT_EQ(target_size({640, 480}, {518, 0, 14}), (Size2{518, 392}));   // 388.5 -> 28 * 14
  EXPECT_EQ(target_size({1280, 720}, {518, 0, 14}), (Size2{518, 294}));  // 291.4 -> 21 * 14
  EXPECT_EQ(target_size({640, 480}, {224, 224, 1}), (Size2{224, 224}));
  EXPECT_EQ(target_size({300, 200}, {150, 0, 1}), (Size2{150, 100}));
  EXPECT_THROW(target_size({640, 480}, {0, 0, 1}), Error);
  EXPECT_THROW(target_size({640, 480}, {224, 0, 0}), Error);
}

// For every output pixel, the camera says which source coordinate it sees (K K'^-1 applied to
// the pixel, since the pose is unchanged); nearest resampling must have taken the source pixel
// containing that coordinate. This ties the resampler and the intrinsics update together.
void expect_depth_matches_camera(const Frame& source, const Frame& out) {
  const auto& K = source.camera.K;
  const auto& Ko = out.camera.K;
  ASSERT_EQ(out.depth.width, out.camera.width);
  ASSERT_EQ(out.depth.height, out.camera.height);
  for (int y = 0; y < out.depth.height; ++y)
    for (int x = 0; x < out.depth.width; ++x) {
      const double ray_x = (x - Ko[2]) / Ko[0], ray_y = (y - Ko[5]) / Ko[4];
      const double u = K[0] * ray_x + K[2], v = K[4] * ray_y + K[5];
      const int code = static_cast<int>(out.depth.at(x, y)) - 1;
      const int sx = code % 1000, sy = code / 1000;
      ASSERT_LE(std::abs(sx - u), 0.5 + 1e-6) << "pixel " << x << "," << y;
      ASSERT_LE(std::abs(sy - v), 0.5 + 1e-6) << "pixel " << x << "," << y;
    }
}

TEST(Resize, ResizeAndCenterCropTo224KeepsDepthAndCameraConsistent) {
  Frame frame;
  frame.camera = test_camera(320, 240);
  frame.rgb = testing::coordinate_image(320, 240);
  frame.depth = index_depth(320, 240);
  frame.valid = ImageU8(320, 240, 1, 1);
  const Frame out = resize_and_center_crop(frame, {224, 224, 1});
  EXPECT_EQ(out.camera.width, 224);
  EXPECT_EQ(out.camera.height, 224);
  EXPECT_EQ(out.rgb.width, 224);
  EXPECT_EQ(out.valid.height, 224);
  expect_depth_matches_camera(frame, out);
  // 320x240 -> scale 224/240 -> 299x224 (rounded), then 37 columns cropped on the left.
  EXPECT_NEAR(out.camera.K[0], 50.0 * 299.0 / 320.0, 1e-9);
  EXPECT_NEAR(out.camera.K[2], 299.0 / 320.0 * (frame.camera.K[2] + 0.5) - 0.5 - 37, 1e-9);
}

TEST(Resize, ResizeToPatchMultipleWidthKeepsAKnownPointAtTheRightPixel) {
  Frame frame;
  frame.camera = test_camera(640, 480);
  frame.depth = index_depth(640, 480);
  frame.valid = ImageU8(640, 480, 1, 1);
  const Frame out = resize_and_center_crop(frame, {518, 0, 14});
  EXPECT_EQ(out.camera.width, 518);
  EXPECT_EQ(out.camera.height, 392);
  EXPECT_TRUE(out.rgb.empty());  // empty images stay empty
  expect_depth_matches_camera(frame, out);

  const std::array<double, 3> point{0.05, 0.1, -0.2};
  const auto before = project(frame.camera, point);
  const auto after = project(out.camera, point);
  // 640x480 covers 518x392 at scale 392/480 = 0.8167 -> 523x392, cropped by 2 columns.
  const double s_x = 523.0 / 640.0, s_y = 392.0 / 480.0;
  EXPECT_NEAR(after.u, s_x * (before.u + 0.5) - 0.5 - 2, 1e-9);
  EXPECT_NEAR(after.v, s_y * (before.v + 0.5) - 0.5, 1e-9);
}

TEST(Resize, IdentitySpecLeavesTheFrameUntouched) {
  Frame frame;
  frame.camera = test_camera(32, 24);
  frame.rgb = testing::coordinate_image(32, 24);
  const Frame out = resize_and_center_crop(frame, {32, 24, 1});
  EXPECT_EQ(out.rgb.pixels, frame.rgb.pixels);
  EXPECT_EQ(out.camera.K, frame.camera.K);
}

TEST(Resize, CropOutsideTheImageThrows) {
  const ImageU8 image(10, 10, 3);
  EXPECT_THAT([&] { crop_image(image, 5, 0, 6, 4); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("does not fit a 10x10")));
  const ImageU8 crop = crop_image(testing::coordinate_image(10, 10), 2, 3, 4, 5);
  EXPECT_EQ(crop.at(0, 0, 0), 2);
  EXPECT_EQ(crop.at(0, 0, 1), 3);
  EXPECT_EQ(crop.at(3, 4, 0), 5);
}

// Pixels that exercise every rounding: a fixed pseudo-random pattern.
template <typename T>
Image<T> pattern_image(int width, int height, int channels, int modulus, int offset) {
  Image<T> image(width, height, channels);
  std::uint32_t state = 12345u + static_cast<std::uint32_t>(offset);
  for (auto& value : image.pixels) {
    state = state * 1664525u + 1013904223u;
    value = static_cast<T>(offset +
                           static_cast<int>((state >> 8) % static_cast<std::uint32_t>(modulus)));
  }
  return image;
}

// resize_and_center_crop computes only the window it keeps; the frame it gives must be the one
// of the long way round: the whole frame resized (resize_frame), then cropped (crop_frame).
TEST(Resize, ResizeAndCenterCropEqualsResizingTheWholeFrameThenCropping) {
  Frame frame;
  frame.camera = test_camera(97, 61);
  frame.rgb = pattern_image<std::uint8_t>(97, 61, 3, 256, 0);
  frame.depth = index_depth(97, 61);
  frame.valid = pattern_image<std::uint8_t>(97, 61, 1, 2, 0);
  frame.confidence = pattern_image<float>(97, 61, 1, 1000, 1);
  frame.object_mask = pattern_image<std::uint8_t>(97, 61, 1, 256, 0);
  frame.source = "pattern";
  // Downscales cropping x or y, upscales, a crop without resampling, the identity, a height from
  // the aspect ratio.
  for (const ResizeSpec& spec :
       {ResizeSpec{32, 32, 1}, ResizeSpec{40, 12, 1}, ResizeSpec{150, 80, 1},
        ResizeSpec{200, 200, 1}, ResizeSpec{97, 50, 1}, ResizeSpec{60, 61, 1},
        ResizeSpec{97, 61, 1}, ResizeSpec{61, 0, 7}}) {
    const Size2 target = target_size({97, 61}, spec);
    const double scale = std::max(target.width / 97.0, target.height / 61.0);
    const int scaled_width = std::max(target.width, static_cast<int>(std::lround(97 * scale)));
    const int scaled_height = std::max(target.height, static_cast<int>(std::lround(61 * scale)));
    const Frame scaled = (scaled_width == 97 && scaled_height == 61)
                             ? frame
                             : resize_frame(frame, scaled_width, scaled_height);
    const Frame expected =
        crop_frame(scaled, (scaled_width - target.width) / 2, (scaled_height - target.height) / 2,
                   target.width, target.height);
    const Frame out = resize_and_center_crop(frame, spec);
    const std::string where = std::to_string(spec.width) + "x" + std::to_string(spec.height);
    EXPECT_EQ(out.rgb.pixels, expected.rgb.pixels) << where;
    EXPECT_EQ(out.depth.pixels, expected.depth.pixels) << where;
    EXPECT_EQ(out.valid.pixels, expected.valid.pixels) << where;
    EXPECT_EQ(out.confidence.pixels, expected.confidence.pixels) << where;
    EXPECT_EQ(out.object_mask.pixels, expected.object_mask.pixels) << where;
    EXPECT_EQ(out.camera.K, expected.camera.K) << where;
    EXPECT_EQ(out.camera.cam_from_world, expected.camera.cam_from_world) << where;
    EXPECT_EQ(out.camera.width, target.width) << where;
    EXPECT_EQ(out.camera.height, target.height) << where;
    EXPECT_EQ(out.source, "pattern");
    // The RGB alone, the other maps untouched.
    EXPECT_EQ(resize_and_center_crop_rgb(frame, spec).pixels, expected.rgb.pixels) << where;
  }
}

// The uint8 resize rounds its float result half away from zero and clamps to 0..255
// (std::lround), which values near .5 and the ends of the range test.
TEST(Resize, BilinearUint8RoundsLikeLroundOfTheFloatResult) {
  const ImageU8 image = pattern_image<std::uint8_t>(53, 29, 3, 256, 0);
  std::vector<float> floats(image.pixels.begin(), image.pixels.end());
  ImageF32 as_float(53, 29, 3);
  as_float.pixels.assign(floats.begin(), floats.end());
  for (const auto& [w, h] : {std::pair{17, 11}, std::pair{40, 29}, std::pair{120, 70}}) {
    const ImageU8 out = resize_bilinear(image, w, h);
    const ImageF32 reference = resize_bilinear(as_float, w, h);
    ASSERT_EQ(out.pixels.size(), reference.pixels.size());
    for (std::size_t i = 0; i < out.pixels.size(); ++i)
      ASSERT_EQ(out.pixels[i], std::clamp(std::lround(reference.pixels[i]), 0L, 255L))
          << w << "x" << h << " value " << i;
  }
}

// An independent per-pixel triangle resize: the weights as resize.cpp's triangle_filter computes
// them (double weights stored as float, normalised as double by the double total, cast to float),
// then each output value summed over its horizontal taps, those sums over its vertical taps, both
// in ascending tap order from 0.0f.
struct ReferenceTaps {
  int first = 0;
  std::vector<float> weights;
};

std::vector<ReferenceTaps> reference_triangle_taps(int from, int to) {
  const double radius = std::max(1.0, 1.0 / (static_cast<double>(to) / from));
  std::vector<ReferenceTaps> taps(static_cast<std::size_t>(to));
  for (int d = 0; d < to; ++d) {
    const double centre = (d + 0.5) * static_cast<double>(from) / to - 0.5;
    const int lo = std::max(0, static_cast<int>(std::floor(centre - radius)) + 1);
    const int hi = std::min(from - 1, static_cast<int>(std::ceil(centre + radius)) - 1);
    std::vector<float> raw;
    double total = 0.0;
    for (int s = lo; s <= hi; ++s) {
      const double w = std::max(0.0, 1.0 - std::abs(s - centre) / radius);
      raw.push_back(static_cast<float>(w));
      total += w;
    }
    ReferenceTaps& tap = taps[static_cast<std::size_t>(d)];
    if (total <= 0.0) {
      tap = {std::clamp(static_cast<int>(std::lround(centre)), 0, from - 1), {1.0f}};
      continue;
    }
    tap.first = lo;
    for (const float w : raw) tap.weights.push_back(static_cast<float>(w / total));
  }
  return taps;
}

// Window [x0, x0 + width) x [y0, y0 + height) of `image` resized to full_width x full_height.
template <typename T>
std::vector<float> reference_triangle_resize(const Image<T>& image, int full_width, int full_height,
                                             int x0, int y0, int width, int height) {
  const auto columns = reference_triangle_taps(image.width, full_width);
  const auto rows = reference_triangle_taps(image.height, full_height);
  std::vector<float> out;
  for (int y = y0; y < y0 + height; ++y)
    for (int x = x0; x < x0 + width; ++x)
      for (int c = 0; c < image.channels; ++c) {
        const ReferenceTaps& row = rows[static_cast<std::size_t>(y)];
        const ReferenceTaps& column = columns[static_cast<std::size_t>(x)];
        float sum = 0.0f;
        for (std::size_t k = 0; k < row.weights.size(); ++k) {
          float horizontal = 0.0f;
          for (std::size_t m = 0; m < column.weights.size(); ++m)
            horizontal += column.weights[m] *
                          static_cast<float>((&image.at(column.first + static_cast<int>(m),
                                                        row.first + static_cast<int>(k)))[c]);
          sum += row.weights[k] * horizontal;
        }
        out.push_back(sum);
      }
  return out;
}

std::vector<std::uint8_t> reference_round(const std::vector<float>& values) {
  std::vector<std::uint8_t> out;
  for (const float v : values)
    out.push_back(static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L)));
  return out;
}

template <typename T>
Image<T> random_image(int width, int height, int channels, std::mt19937& random) {
  Image<T> image(width, height, channels);
  std::uniform_int_distribution<int> bytes(0, 255);
  std::uniform_real_distribution<float> floats(-1000.0f, 1000.0f);
  for (auto& value : image.pixels)
    value =
        std::is_same_v<T, float> ? static_cast<T>(floats(random)) : static_cast<T>(bytes(random));
  return image;
}

// The pixels as a std::vector, whatever allocator the image uses.
template <typename T>
std::vector<T> values_of(const Image<T>& image) {
  return {image.pixels.begin(), image.pixels.end()};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Restores the kernels chosen by the CPU, whatever the test does.
struct ForcedResizeKernels {
  explicit ForcedResizeKernels(resize_kernels::Kernels kernels) {
    resize_kernels::force_kernels(kernels);
  }
  ~ForcedResizeKernels() { resize_kernels::force_kernels(resize_kernels::Kernels::kBest); }
};

// Every path (8 or 4 rows per vector, one row at a time) gives the per-pixel reference's floats
// and bytes bit for bit: down- and upscales, sizes below a vector's width, heights not a multiple
// of 4 or 8 (rows left over), 1, 3 and 4 channels, uint8 and float, and crop windows.
TEST(Resize, BilinearEqualsThePerPixelReferenceBitForBitOnEveryPath) {
  struct Case {
    int from_width, from_height, to_width, to_height;
  };
  const Case cases[] = {{97, 61, 40, 23}, {40, 23, 97, 61}, {13, 11, 5, 3},       {5, 3, 13, 11},
                        {1, 9, 1, 4},     {9, 1, 4, 1},     {3, 17, 7, 29},       {33, 7, 2, 15},
                        {64, 48, 64, 13}, {64, 48, 17, 48}, {960, 540, 398, 224}, {200, 37, 75, 9}};
  using resize_kernels::Kernels;
  for (const Kernels kernels : {Kernels::kBest, Kernels::kSse2, Kernels::kScalar}) {
    const ForcedResizeKernels forced(kernels);
    std::mt19937 random(7);
    for (const Case& c : cases)
      for (const int channels : {1, 3, 4}) {
        const std::string where = "kernels " + std::to_string(static_cast<int>(kernels)) + ", " +
                                  std::to_string(c.from_width) + "x" +
                                  std::to_string(c.from_height) + " -> " +
                                  std::to_string(c.to_width) + "x" + std::to_string(c.to_height) +
                                  ", " + std::to_string(channels) + " channels";
        const auto u8 = random_image<std::uint8_t>(c.from_width, c.from_height, channels, random);
        const auto f32 = random_image<float>(c.from_width, c.from_height, channels, random);
        const auto full = [&](const auto& image) {
          return reference_triangle_resize(image, c.to_width, c.to_height, 0, 0, c.to_width,
                                           c.to_height);
        };
        EXPECT_EQ(values_of(resize_bilinear(u8, c.to_width, c.to_height)),
                  reference_round(full(u8)))
            << where;
        EXPECT_TRUE(same_bits(values_of(resize_bilinear(f32, c.to_width, c.to_height)), full(f32)))
            << where;
        // A target of another aspect ratio: cover-resized, then the centre cropped (the window
        // computed alone).
        Frame frame;
        frame.rgb = u8;
        frame.camera.width = c.from_width;
        frame.camera.height = c.from_height;
        const ResizeSpec spec{std::max(1, c.to_width - 3), c.to_height + 2, 1};
        const double scale = std::max(static_cast<double>(spec.width) / c.from_width,
                                      static_cast<double>(spec.height) / c.from_height);
        const int width = std::max(spec.width, static_cast<int>(std::lround(c.from_width * scale)));
        const int height =
            std::max(spec.height, static_cast<int>(std::lround(c.from_height * scale)));
        EXPECT_EQ(values_of(resize_and_center_crop_rgb(frame, spec)),
                  reference_round(reference_triangle_resize(
                      u8, width, height, (width - spec.width) / 2, (height - spec.height) / 2,
                      spec.width, spec.height)))
            << where << ", cropped to " << spec.width << "x" << spec.height;
      }
  }
}

}  // namespace
}  // namespace vidprobe
