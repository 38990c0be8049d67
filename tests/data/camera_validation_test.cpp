#include "vidprobe/data/camera_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "data/dataset_test_util.h"
#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

Camera rotated_camera(const std::array<double, 9>& rotation) {
  Camera camera;
  camera.width = 32;
  camera.height = 24;
  camera.K = {30.0, 0, 15.5, 0, 31.0, 11.5, 0, 0, 1};
  for (std::size_t r = 0; r < 3; ++r) {
    for (std::size_t c = 0; c < 3; ++c) camera.cam_from_world[r * 4 + c] = rotation[r * 3 + c];
    camera.cam_from_world[r * 4 + 3] = 0.5 * static_cast<double>(r) - 1.0;
  }
  return camera;
}

Camera good_camera() {
  return rotated_camera(testing::axis_angle({0.2, 1.0, -0.3}, 0.7));
}

TEST(CameraValidation, AcceptsARotationAndFloat32RoundedRotations) {
  EXPECT_NO_THROW(validate_camera(good_camera(), "frame.png"));
  // Datasets store float32 (CO3D, DL3DV): rounding must not be mistaken for a bad camera.
  Camera rounded = good_camera();
  for (double& value : rounded.cam_from_world) value = static_cast<float>(value);
  EXPECT_NO_THROW(validate_camera(rounded, "frame.png"));
  // Skew is representable in our K (resize scales it).
  Camera skewed = good_camera();
  skewed.K[1] = 0.25;
  EXPECT_NO_THROW(validate_camera(skewed, "frame.png"));
}

TEST(CameraValidation, RefusesANonOrthonormalRotationNamingTheSource) {
  Camera scaled = good_camera();
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t c = 0; c < 3; ++c) scaled.cam_from_world[r * 4 + c] *= 1.001;
  EXPECT_THAT([&] { validate_camera(scaled, "scene/frame_00007.png"); },
              ThrowsMessage<Error>(AllOf(HasSubstr("scene/frame_00007.png"),
                                         HasSubstr("not orthonormal"), HasSubstr("R R^T"))));
  // Just inside the tolerance passes, just outside fails: the limit is kRotationTolerance.
  Camera sheared = good_camera();
  sheared.cam_from_world[1] += 0.4 * kRotationTolerance;
  EXPECT_NO_THROW(validate_camera(sheared, "frame.png"));
  sheared.cam_from_world[1] += 2.0 * kRotationTolerance;
  EXPECT_THROW(validate_camera(sheared, "frame.png"), Error);
}

TEST(CameraValidation, RefusesAReflection) {
  Camera mirrored = good_camera();
  for (std::size_t c = 0; c < 4; ++c) mirrored.cam_from_world[4 + c] *= -1.0;  // flip y row
  EXPECT_THAT([&] { validate_camera(mirrored, "a.png"); },
              ThrowsMessage<Error>(
                  AllOf(HasSubstr("a.png"), HasSubstr("determinant -"), HasSubstr("reflection"))));
}

TEST(CameraValidation, RefusesNonFiniteValuesNamingTheEntry) {
  Camera camera = good_camera();
  camera.cam_from_world[7] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT([&] { validate_camera(camera, "b.png"); },
              ThrowsMessage<Error>(AllOf(HasSubstr("b.png"), HasSubstr("cam_from_world[7]"),
                                         HasSubstr("not finite"))));
  camera = good_camera();
  camera.K[2] = std::numeric_limits<double>::infinity();
  EXPECT_THAT([&] { validate_camera(camera, "b.png"); },
              ThrowsMessage<Error>(AllOf(HasSubstr("K[2]"), HasSubstr("not finite"))));
}

TEST(CameraValidation, RefusesNonPositiveFocalLengthsAndNonPinholeIntrinsics) {
  Camera camera = good_camera();
  camera.K[4] = -31.0;
  EXPECT_THAT([&] { validate_camera(camera, "c.png"); },
              ThrowsMessage<Error>(
                  AllOf(HasSubstr("c.png"), HasSubstr("focal lengths"), HasSubstr("fy = -31"))));
  camera = good_camera();
  camera.K[0] = 0.0;
  EXPECT_THAT([&] { validate_camera(camera, "c.png"); }, ThrowsMessage<Error>(HasSubstr("fx = 0")));
  camera = good_camera();
  camera.K[8] = 2.0;
  EXPECT_THAT([&] { validate_camera(camera, "c.png"); },
              ThrowsMessage<Error>(HasSubstr("[0, 0, 1]")));
  camera = good_camera();
  camera.width = 0;
  EXPECT_THAT([&] { validate_camera(camera, "c.png"); },
              ThrowsMessage<Error>(HasSubstr("image size must be positive")));
}

}  // namespace
}  // namespace vidprobe
