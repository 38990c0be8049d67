// The backbone's input pixels made by a named input processor (PIL-exact) instead of our own
// resize, and the checks that keep input and ground truth on one field of view.
#include "vidprobe/features/clip_tensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"
#include "vidprobe/data/pil_resample.h"

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
  const auto expected_input = image_to_tensor(expected).to(torch::kFloat32) / 255.0;
  EXPECT_TRUE(torch::equal(processed.backbone_input[0], expected_input));
  EXPECT_TRUE(torch::equal(processed.backbone_input[1], expected_input));
  EXPECT_FALSE(torch::equal(plain.backbone_input, processed.backbone_input));
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

}  // namespace
}  // namespace vidprobe::features
