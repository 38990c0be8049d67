// The backbone's input pixels made by a named input processor (PIL-exact) instead of our own
// resize, and the checks that keep input and ground truth on one field of view.
#include "vidprobe/features/clip_tensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <limits>

#include "test_support.h"
#include "vidprobe/data/pil_resample.h"
#include "vidprobe/data/resize.h"

namespace vidprobe::features {
namespace {
using ::testing::HasSubstr;

Clip gradient_clip(int width, int height) {
  Frame frame;
  frame.rgb = ImageU8(width, height, 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        frame.rgb.at(x, y, c) = static_cast<std::uint8_t>((x * 37 + y * 11 + c * 80) % 256);
  frame.camera.width = width;
  frame.camera.height = height;
  frame.camera.K = {40, 0, width / 2.0, 0, 40, height / 2.0, 0, 0, 1};
  frame.camera.cam_from_world = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
  Clip clip;
  clip.id = "gradient";
  clip.frames = {frame, frame};
  return clip;
}

ImageProcessorSpec lanczos_squash(int width, int height) {
  return {.name = "test-lanczos",
          .filter = PilFilter::kLanczos,
          .rule = ResizeRule::kSquash,
          .size = {width, height},
          .center_crop = std::nullopt};
}

TEST(ClipTensors, AnInputProcessorMakesTheBackbonePixelsAndLeavesTheGroundTruth) {
  const auto clip = gradient_clip(61, 37);
  const auto plain = clip_to_tensors(clip, 32, 24, 20, 12, ResizeMode::kSquash);
  const auto processed =
      clip_to_tensors(clip, 32, 24, 20, 12, ResizeMode::kSquash, lanczos_squash(32, 24));
  const auto expected = pil_resize(clip.frames[0].rgb, 32, 24, PilFilter::kLanczos);
  EXPECT_TRUE(torch::equal(processed.backbone_pixels[0], image_to_tensor(expected)));
  EXPECT_TRUE(torch::equal(processed.backbone_pixels[1], image_to_tensor(expected)));
  EXPECT_FALSE(torch::equal(plain.backbone_pixels, processed.backbone_pixels));
  EXPECT_TRUE(torch::equal(plain.gt_images, processed.gt_images));
  EXPECT_TRUE(torch::equal(plain.intrinsics, processed.intrinsics));
}

TEST(ClipTensors, AnInputProcessorOfAnotherSizeOrFieldOfViewIsRefused) {
  const auto clip = gradient_clip(61, 37);
  EXPECT_THAT(test_support::error_message([&] {
                clip_to_tensors(clip, 32, 24, 20, 12, ResizeMode::kSquash, lanczos_squash(30, 24));
              }),
              HasSubstr("input processor 'test-lanczos' makes 30x24 images but the backbone "
                        "takes 32x24"));
  EXPECT_THAT(test_support::error_message([&] {
                clip_to_tensors(clip, 32, 24, 20, 12, ResizeMode::kCrop, lanczos_squash(32, 24));
              }),
              HasSubstr("squashes the frame but --resize is crop"));
  EXPECT_THAT(test_support::error_message([&] {
                check_input_processor(image_processor_spec("hf-dinov2"), ResizeMode::kSquash, 224,
                                      224);
              }),
              HasSubstr("crops the frame but --resize is squash"));
  check_input_processor(image_processor_spec("hf-dinov2"), ResizeMode::kCrop, 224, 224);
  check_input_processor(image_processor_spec("vidfm3d-wan"), ResizeMode::kSquash, 832, 480);
}

// A clip whose frames carry depth and a valid mask too (gradient_clip's have RGB alone).
Clip gradient_clip_with_depth(int width, int height) {
  Clip clip = gradient_clip(width, height);
  for (std::size_t f = 0; f < clip.frames.size(); ++f) {
    Frame& frame = clip.frames[f];
    frame.depth = ImageF32(width, height, 1);
    frame.valid = ImageU8(width, height, 1);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const bool valid = (x + 2 * y + static_cast<int>(f)) % 5 != 0;
        frame.valid.at(x, y) = valid ? 1 : 0;
        frame.depth.at(x, y) = valid ? 1.0f + 0.01f * static_cast<float>(x + 3 * y) : 0.0f;
        // Depth no valid pixel may keep: not finite, not positive.
        if (valid && x % 7 == 3)
          frame.depth.at(x, y) = std::array{std::numeric_limits<float>::quiet_NaN(),
                                            std::numeric_limits<float>::infinity(), -2.0f,
                                            0.0f}[static_cast<std::size_t>(y % 4)];
      }
  }
  return clip;
}

// The backbone input and the ground truth are made with as few resizes as possible (one when
// their sizes agree, and the input's RGB alone otherwise); the tensors must be exactly those of
// each frame resized on its own for the input and again for the ground truth.
TEST(ClipTensors, InputAndGroundTruthAreTheFramesResizedOnTheirOwn) {
  const auto clip = gradient_clip_with_depth(61, 37);
  struct Case {
    ResizeMode mode;
    int input_width, input_height, gt_width, gt_height;
  };
  for (const Case& c :
       {Case{ResizeMode::kCrop, 24, 24, 24, 24}, Case{ResizeMode::kCrop, 32, 24, 20, 12},
        Case{ResizeMode::kCrop, 16, 16, 40, 30}, Case{ResizeMode::kSquash, 32, 24, 32, 24},
        Case{ResizeMode::kSquash, 32, 24, 20, 12}}) {
    const auto fit = [&](const Frame& frame, int width, int height) {
      return c.mode == ResizeMode::kSquash ? resize_frame(frame, width, height)
                                           : resize_and_center_crop(frame, {width, height, 1});
    };
    const auto tensors =
        clip_to_tensors(clip, c.input_width, c.input_height, c.gt_width, c.gt_height, c.mode);
    const std::string where = to_string(c.mode) + " " + std::to_string(c.input_width) + "x" +
                              std::to_string(c.input_height) + " / " + std::to_string(c.gt_width) +
                              "x" + std::to_string(c.gt_height);
    for (std::size_t t = 0; t < clip.frames.size(); ++t) {
      const auto i = static_cast<int64_t>(t);
      const auto input = fit(clip.frames[t], c.input_width, c.input_height);
      const auto gt = fit(clip.frames[t], c.gt_width, c.gt_height);
      EXPECT_TRUE(torch::equal(tensors.backbone_pixels[i], image_to_tensor(input.rgb))) << where;
      EXPECT_TRUE(torch::equal(tensors.gt_images[i], image_to_tensor(gt.rgb))) << where;
      // Valid where the mask is set and the depth finite and positive; depth 0 elsewhere.
      const auto raw_depth =
          torch::from_blob(const_cast<float*>(gt.depth.pixels.data()), {c.gt_height, c.gt_width});
      const auto valid = torch::from_blob(const_cast<std::uint8_t*>(gt.valid.pixels.data()),
                                          {c.gt_height, c.gt_width}, torch::kUInt8)
                             .gt(0) &
                         torch::isfinite(raw_depth) & raw_depth.gt(0);
      const auto depth = torch::where(valid, raw_depth, torch::zeros_like(raw_depth));
      EXPECT_GT(valid.sum().item<int64_t>(), 0) << where;
      EXPECT_LT(valid.sum().item<int64_t>(), valid.numel()) << where;
      EXPECT_TRUE(torch::equal(tensors.depth[i], depth)) << where;
      EXPECT_TRUE(torch::equal(tensors.valid[i], valid)) << where;
      EXPECT_NEAR(tensors.intrinsics[i][0][2].item<double>(), gt.camera.K[2], 1e-5) << where;
    }
  }
}

// Every value of the depth and valid tensors is written, those of a frame without depth too (the
// tensors start uninitialised).
TEST(ClipTensors, AFrameWithoutDepthHasZeroDepthAndNothingValid) {
  Clip clip = gradient_clip_with_depth(61, 37);
  ASSERT_GE(clip.frames.size(), 2u);
  clip.frames[1].depth = {};
  clip.frames[1].valid = {};
  for (int round = 0; round < 3; ++round) {  // reused memory would show a stale value
    const auto tensors = clip_to_tensors(clip, 24, 24, 24, 24);
    EXPECT_TRUE(torch::equal(tensors.depth[1], torch::zeros({24, 24})));
    EXPECT_FALSE(tensors.valid[1].any().item<bool>());
    EXPECT_TRUE(tensors.valid[0].any().item<bool>());
  }
}

// The backbone's input is image_to_tensor(rgb).to(float) / 255.0 exactly as the CPU computes it,
// for every one of the 256 values (the table's own rule, checked against the operation itself),
// frame by frame, for strided pixels too.
TEST(ClipTensors, TheBackboneInputIsThePixelsOver255AsTheCpuComputesIt) {
  const auto table = unit_interval_table(torch::kCPU);
  const auto values = torch::arange(256, torch::kUInt8).view({1, 1, 16, 16}).expand({2, 3, 16, 16});
  const auto input = backbone_input(values.contiguous(), table);
  EXPECT_EQ(input.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(input, values.to(torch::kFloat32) / 255.0));
  torch::manual_seed(3);
  const auto frames = torch::randint(0, 256, {4, 3, 5, 7}, torch::kUInt8);  // no two alike
  for (const auto& pixels : {frames, frames.flip(0), frames.transpose(2, 3)})
    EXPECT_TRUE(torch::equal(backbone_input(pixels, table), pixels.to(torch::kFloat32) / 255.0));
  const auto clip = gradient_clip_with_depth(61, 37);
  const auto tensors = clip_to_tensors(clip, 24, 24, 20, 12);
  EXPECT_TRUE(torch::equal(backbone_input(tensors.backbone_pixels, table),
                           tensors.backbone_pixels.to(torch::kFloat32) / 255.0));
  EXPECT_THAT(
      [&] { backbone_input(tensors.backbone_pixels.to(torch::kFloat32), table); },
      ::testing::ThrowsMessage<Error>(HasSubstr("must be (frames, 3, height, width) uint8")));
  EXPECT_THAT([&] { backbone_input(frames.narrow(1, 0, 2), table); },
              ::testing::ThrowsMessage<Error>(HasSubstr("shape [4, 2, 5, 7]")));
}

// Input and ground truth of one size share one tensor; of two sizes, each has its own.
TEST(ClipTensors, OneSizeSharesTheGroundTruthPixels) {
  const auto clip = gradient_clip_with_depth(61, 37);
  const auto same = clip_to_tensors(clip, 24, 24, 24, 24);
  EXPECT_TRUE(same.backbone_pixels.is_same(same.gt_images));
  const auto other = clip_to_tensors(clip, 24, 24, 20, 12);
  EXPECT_FALSE(other.backbone_pixels.is_same(other.gt_images));
}

// The pixels extraction sends to a GPU sit in page-locked memory (the ground truth's too when it
// is the same tensor), and the input made from them on the GPU holds the CPU's floats.
TEST(ClipTensors, PinnedPixelsMakeTheCpuInputOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const Clip clip = gradient_clip_with_depth(61, 37);
  const auto cpu_table = unit_interval_table(torch::kCPU);
  const auto gpu_table = unit_interval_table(torch::kCUDA);
  for (const int gt : {24, 12}) {
    const auto pageable = clip_to_tensors(clip, 24, 24, gt, gt);
    const auto pinned =
        clip_to_tensors(clip, 24, 24, gt, gt, ResizeMode::kCrop, std::nullopt, HostMemory::kPinned);
    EXPECT_FALSE(pageable.backbone_pixels.is_pinned());
    EXPECT_TRUE(pinned.backbone_pixels.is_pinned());
    EXPECT_EQ(pinned.gt_images.is_pinned(), gt == 24);
    EXPECT_TRUE(torch::equal(pinned.backbone_pixels, pageable.backbone_pixels));
    const auto on_gpu = backbone_input(pinned.backbone_pixels, gpu_table, /*non_blocking=*/true);
    EXPECT_TRUE(on_gpu.is_cuda());
    EXPECT_TRUE(torch::equal(on_gpu.cpu(), backbone_input(pageable.backbone_pixels, cpu_table)));
  }
  const auto values = torch::arange(256, torch::kUInt8).view({1, 1, 16, 16}).expand({1, 3, 16, 16});
  EXPECT_TRUE(torch::equal(backbone_input(values.contiguous(), gpu_table).cpu(),
                           values.to(torch::kFloat32) / 255.0));
}

}  // namespace
}  // namespace vidprobe::features
