#include "vidprobe/data/colmap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "data/dataset_test_util.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

ColmapModel sample_model() {
  ColmapModel model;
  model.cameras[1] = {1, "PINHOLE", 64, 48, {60.0, 62.0, 32.5, 24.25}};
  model.cameras[2] = {2, "SIMPLE_PINHOLE", 40, 30, {35.0, 20.0, 15.0}};
  model.cameras[3] = {3, "SIMPLE_RADIAL", 40, 30, {35.0, 20.0, 15.0, 0.01}};
  model.cameras[7] = {7, "OPENCV", 64, 48, {60.0, 61.0, 31.0, 23.0, 0.1, -0.02, 0.001, 0.002}};
  const double h = std::sqrt(0.5);
  model.images.push_back({4, {0.9, 0.1, -0.3, 0.2}, {0.5, -0.25, 2.0}, 7, "frame_00002.png"});
  model.images.push_back({2, {h, 0.0, 0.0, h}, {0.0, 0.0, 1.0}, 1, "frame_00001.png"});
  model.images.push_back({9, {1.0, 0.0, 0.0, 0.0}, {1.0, 2.0, 3.0}, 3, "frame_00003.png"});
  return model;
}

void expect_same_model(const ColmapModel& a, const ColmapModel& b) {
  ASSERT_EQ(a.cameras.size(), b.cameras.size());
  for (const auto& [id, camera] : a.cameras) {
    const auto& other = b.cameras.at(id);
    EXPECT_EQ(camera.model, other.model);
    EXPECT_EQ(camera.width, other.width);
    EXPECT_EQ(camera.height, other.height);
    EXPECT_EQ(camera.params, other.params);
  }
  ASSERT_EQ(a.images.size(), b.images.size());
  for (std::size_t i = 0; i < a.images.size(); ++i) {
    EXPECT_EQ(a.images[i].name, b.images[i].name);
    EXPECT_EQ(a.images[i].id, b.images[i].id);
    EXPECT_EQ(a.images[i].camera_id, b.images[i].camera_id);
    EXPECT_EQ(a.images[i].qvec, b.images[i].qvec);
    EXPECT_EQ(a.images[i].tvec, b.images[i].tvec);
  }
}

TEST(Colmap, TextAndBinaryGiveIdenticalModels) {
  const auto dir = testing::fresh_temp_dir("colmap_roundtrip");
  const ColmapModel model = sample_model();
  write_colmap_text(dir / "text", model);
  write_colmap_binary(dir / "bin", model);
  const ColmapModel text = read_colmap_text(dir / "text");
  const ColmapModel binary = read_colmap_binary(dir / "bin");
  expect_same_model(text, binary);
  EXPECT_EQ(text.images.front().name, "frame_00001.png");  // sorted by name
  for (std::size_t i = 0; i < text.images.size(); ++i) {
    const auto& image = text.images[i];
    const Camera a = colmap_camera(text.cameras.at(image.camera_id), image);
    const Camera b = colmap_camera(binary.cameras.at(image.camera_id), binary.images[i]);
    EXPECT_EQ(a.K, b.K);
    EXPECT_EQ(a.cam_from_world, b.cam_from_world);
  }
  // read_colmap_model prefers binary when both exist, text otherwise.
  fs::copy(dir / "text" / "cameras.txt", dir / "bin" / "cameras.txt");
  fs::copy(dir / "text" / "images.txt", dir / "bin" / "images.txt");
  expect_same_model(read_colmap_model(dir / "bin"), binary);
  expect_same_model(read_colmap_model(dir / "text"), text);
  fs::remove_all(dir);
}

TEST(Colmap, ReadsHandWrittenTextWithCommentsAndPointLines) {
  const auto dir = testing::fresh_temp_dir("colmap_text");
  write_file_atomically(dir / "cameras.txt",
                        "# Camera list with one line of data per camera:\n"
                        "# Number of cameras: 1\n"
                        "1 PINHOLE 640 480 500 510 320.5 240.5\n");
  write_file_atomically(dir / "images.txt",
                        "# Image list with two lines of data per image:\n"
                        "1 1 0 0 0 0.1 0.2 0.3 1 b.jpg\n"
                        "10.5 20.5 -1 30.0 40.0 17\n"
                        "2 1 0 0 0 0 0 0 1 a.jpg\n"
                        "\n");
  const ColmapModel model = read_colmap_text(dir);
  ASSERT_EQ(model.images.size(), 2u);
  EXPECT_EQ(model.images[0].name, "a.jpg");
  EXPECT_EQ(model.images[1].tvec, (std::array<double, 3>{0.1, 0.2, 0.3}));
  const Camera camera = colmap_camera(model.cameras.at(1), model.images[0]);
  // COLMAP's principal point 320.5 (pixel-corner origin) is 320 with centres at integers.
  EXPECT_EQ(camera.K, (std::array<double, 9>{500, 0, 320, 0, 510, 240, 0, 0, 1}));
  fs::remove_all(dir);
}

TEST(Colmap, QuaternionToRotationMatchesKnownRotations) {
  const double h = std::sqrt(0.5);
  const auto Rz = quaternion_to_rotation({h, 0, 0, h});  // +90 degrees about z
  const std::array<double, 9> expected{0, -1, 0, 1, 0, 0, 0, 0, 1};
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(Rz[i], expected[i], 1e-12);
  // Non-unit input is normalised; compare with Rodrigues for an arbitrary axis.
  const double angle = 0.7;
  const std::array<double, 3> axis{0.267261241912424, 0.534522483824849, 0.801783725737273};
  const double s = std::sin(angle / 2);
  const auto R = quaternion_to_rotation(
      {2 * std::cos(angle / 2), 2 * s * axis[0], 2 * s * axis[1], 2 * s * axis[2]});
  const auto reference = testing::axis_angle(axis, angle);
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(R[i], reference[i], 1e-12);
}

TEST(Colmap, CameraProjectsAKnownPointToItsPixel) {
  // A point 2.5 units in front of a rotated camera, placed to land on pixel (10, 7).
  const auto R = testing::axis_angle({1, 2, 3}, 0.7);
  const double angle = 0.7, s = std::sin(angle / 2);
  const double n = std::sqrt(14.0);
  ColmapImage image{
      1, {std::cos(angle / 2), s / n, 2 * s / n, 3 * s / n}, {0.3, -0.1, 0.8}, 1, "x.png"};
  ColmapCamera camera{1, "PINHOLE", 32, 24, {40.0, 42.0, 16.0, 12.0}};
  // Pixel centre (10, 7) is COLMAP coordinate (10.5, 7.5).
  const double z = 2.5;
  const std::array<double, 3> cam{(10.5 - 16.0) / 40.0 * z, (7.5 - 12.0) / 42.0 * z, z};
  std::array<double, 3> world{};
  for (int c = 0; c < 3; ++c)
    for (int r = 0; r < 3; ++r) world[c] += R[r * 3 + c] * (cam[r] - image.tvec[r]);
  const auto p = testing::project(colmap_camera(camera, image), world);
  EXPECT_NEAR(p.u, 10.0, 1e-9);
  EXPECT_NEAR(p.v, 7.0, 1e-9);
  EXPECT_NEAR(p.z, 2.5, 1e-9);
}

TEST(Colmap, IntrinsicsRecordDistortionAndRejectFisheye) {
  const ColmapModel model = sample_model();
  EXPECT_FALSE(colmap_intrinsics(model.cameras.at(1)).has_distortion());
  const auto opencv = colmap_intrinsics(model.cameras.at(7));
  EXPECT_TRUE(opencv.has_distortion());
  EXPECT_EQ(opencv.distortion, (std::vector<double>{0.1, -0.02, 0.001, 0.002}));
  EXPECT_EQ(colmap_intrinsics(model.cameras.at(3)).distortion, (std::vector<double>{0.01}));
  EXPECT_EQ(colmap_intrinsics(model.cameras.at(2)).fy, 35.0);
  const ColmapCamera fisheye{5, "OPENCV_FISHEYE", 10, 10, {1, 1, 5, 5, 0, 0, 0, 0}};
  EXPECT_THAT([&] { colmap_intrinsics(fisheye); },
              ::testing::ThrowsMessage<Error>(HasSubstr("OPENCV_FISHEYE")));
}

TEST(Colmap, MalformedFilesNameTheFileAndRecord) {
  const auto dir = testing::fresh_temp_dir("colmap_bad");
  write_file_atomically(dir / "cameras.txt", "1 WEIRD_MODEL 10 10 1 2 3\n");
  write_file_atomically(dir / "images.txt", "");
  EXPECT_THAT(
      [&] { read_colmap_text(dir); },
      ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("cameras.txt:1"), HasSubstr("WEIRD_MODEL"))));

  write_file_atomically(dir / "cameras.txt", "1 PINHOLE 10 10 5 5 5\n");  // one param short
  EXPECT_THAT([&] { read_colmap_text(dir); },
              ::testing::ThrowsMessage<Error>(HasSubstr("needs 4 params")));

  write_file_atomically(dir / "cameras.txt", "1 PINHOLE 10 10 5 5 5 5\n");
  write_file_atomically(dir / "images.txt", "1 1 0 0 0 0 0 0 2 a.png\n\n");
  EXPECT_THAT([&] { read_colmap_text(dir); },
              ::testing::ThrowsMessage<Error>(HasSubstr("missing camera 2")));

  write_colmap_binary(dir / "bin", sample_model());
  const std::string bytes = read_file(dir / "bin" / "images.bin");
  write_file_atomically(dir / "bin" / "images.bin", bytes.substr(0, bytes.size() - 20));
  EXPECT_THAT(
      [&] { read_colmap_binary(dir / "bin"); },
      ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("images.bin"), HasSubstr("truncated"))));
  EXPECT_THAT([&] { read_colmap_model(dir / "nothing"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("no COLMAP model")));
  fs::remove_all(dir);
}

// Found by tools/hostile_campaign.py: a repeated image or camera id was accepted (the later camera
// silently replaced the earlier one), an image width of 4294967312 wrapped to 16, and bytes after
// a binary file's last record were ignored.
TEST(Colmap, RepeatedIdsWrappingSizesAndTrailingBytesAreRefused) {
  const auto dir = testing::fresh_temp_dir("colmap_hostile");
  write_file_atomically(dir / "images.txt", "");
  write_file_atomically(dir / "cameras.txt", "1 PINHOLE 10 10 5 5 5 5\n1 PINHOLE 20 20 5 5 5 5\n");
  EXPECT_THAT([&] { read_colmap_text(dir); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("cameras.txt:2"), HasSubstr("camera id 1 appears twice"))));
  write_file_atomically(dir / "cameras.txt", "1 PINHOLE 4294967312 10 5 5 5 5\n");
  EXPECT_THAT(
      [&] { read_colmap_text(dir); },
      ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("cameras.txt:1"), HasSubstr("4294967312"))));
  write_file_atomically(dir / "cameras.txt", "1 PINHOLE 10 10 5 5 5 5\n");
  write_file_atomically(dir / "images.txt",
                        "1 1 0 0 0 0 0 0 1 a.png\n\n1 1 0 0 0 0 0 0 1 b.png\n\n");
  EXPECT_THAT([&] { read_colmap_text(dir); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("images.txt:3"), HasSubstr("image id 1 appears twice"))));

  write_colmap_binary(dir / "bin", sample_model());
  for (const char* file : {"cameras.bin", "images.bin"}) {
    const std::string bytes = read_file(dir / "bin" / file);
    write_file_atomically(dir / "bin" / file, bytes + std::string(8, '\0'));
    EXPECT_THAT([&] { read_colmap_binary(dir / "bin"); },
                ::testing::ThrowsMessage<Error>(
                    AllOf(HasSubstr(file), HasSubstr("8 bytes after the last record"))));
    write_file_atomically(dir / "bin" / file, bytes);
  }
  EXPECT_NO_THROW(read_colmap_binary(dir / "bin"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe
