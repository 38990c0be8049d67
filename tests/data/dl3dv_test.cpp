#include "vidprobe/data/dl3dv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/dataset_test_util.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/data/colmap.h"
#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/io/image.h"

namespace vidprobe {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// Full-resolution camera of the fixture scenes (nerfstudio / COLMAP pixel convention: the
// top-left pixel's centre is (0.5, 0.5)).
constexpr int kFullWidth = 16, kFullHeight = 12;
constexpr double kFx = 14.0, kFy = 15.0, kCx = 8.25, kCy = 5.75;

struct GlPose {
  std::array<double, 9> R;  // camera-to-world rotation, OpenGL camera axes
  std::array<double, 3> C;  // camera centre
};

GlPose pose(int i) {
  return {testing::axis_angle({0.3, 1.0, 0.1 * i}, 0.2 + 0.15 * i), {0.5 * i, -0.2, 0.1 * i}};
}

json matrix4(const GlPose& p) {
  return {{p.R[0], p.R[1], p.R[2], p.C[0]},
          {p.R[3], p.R[4], p.R[5], p.C[1]},
          {p.R[6], p.R[7], p.R[8], p.C[2]},
          {0, 0, 0, 1}};
}

// The world point an OpenGL camera (x right, y up, looking down -z) sees at the centre of pixel
// (u, v) of an image downscaled by `factor`, at distance d along -z.
std::array<double, 3> world_point_at(const GlPose& p, double u, double v, int factor, double d) {
  // Pixel centre u of the downscaled image is (u + 0.5) * factor in full-resolution nerfstudio
  // coordinates; nerfstudio's ray direction is ((x - cx) / fx, -(y - cy) / fy, -1).
  const double x = (u + 0.5) * factor, y = (v + 0.5) * factor;
  const std::array<double, 3> cam{(x - kCx) / kFx * d, -(y - kCy) / kFy * d, -d};
  std::array<double, 3> world = p.C;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) world[r] += p.R[r * 3 + c] * cam[c];
  return world;
}

json transforms_json(int frames, const std::string& model = "OPENCV", double k1 = 0.0) {
  json out = {{"w", kFullWidth},
              {"h", kFullHeight},
              {"fl_x", kFx},
              {"fl_y", kFy},
              {"cx", kCx},
              {"cy", kCy},
              {"k1", k1},
              {"k2", 0.0},
              {"p1", 0.0},
              {"p2", 0.0},
              {"camera_model", model}};
  out["frames"] = json::array();
  // Listed out of order: the reader orders frames by file name.
  for (int i = frames - 1; i >= 0; --i)
    out["frames"].push_back({{"file_path", "images/frame_0000" + std::to_string(i + 1) + ".png"},
                             {"transform_matrix", matrix4(pose(i))}});
  return out;
}

void write_images(const fs::path& scene, const std::string& folder, int frames, int w, int h) {
  fs::create_directories(scene / folder);
  for (int i = 0; i < frames; ++i)
    write_png(scene / folder / ("frame_0000" + std::to_string(i + 1) + ".png"),
              testing::coordinate_image(w, h));
}

fs::path make_scene(const fs::path& root, const std::string& name, int frames = 3) {
  const fs::path scene = root / name;
  fs::create_directories(scene);
  write_file_atomically(scene / "transforms.json", transforms_json(frames).dump(2));
  write_images(scene, "images_2", frames, kFullWidth / 2, kFullHeight / 2);
  return scene;
}

TEST(Dl3dv, OpenGlCameraToWorldBecomesOurCameraFromWorld) {
  const GlPose p = pose(2);
  std::array<double, 16> c2w{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) c2w[r * 4 + c] = p.R[r * 3 + c];
    c2w[r * 4 + 3] = p.C[r];
  }
  c2w[15] = 1;
  Camera camera;
  camera.K = {kFx, 0, kCx - 0.5, 0, kFy, kCy - 0.5, 0, 0, 1};
  camera.cam_from_world = opengl_c2w_to_cam_from_world(c2w, nullptr, "test");
  const auto world = world_point_at(p, 3, 4, 1, 2.0);
  const auto proj = testing::project(camera, world);
  EXPECT_NEAR(proj.u, 3.0, 1e-9);
  EXPECT_NEAR(proj.v, 4.0, 1e-9);
  EXPECT_NEAR(proj.z, 2.0, 1e-9);  // OpenCV depth = distance along the viewing direction

  c2w[0] *= 1.5;  // not a rotation any more
  EXPECT_THAT([&] { opengl_c2w_to_cam_from_world(c2w, nullptr, "scene/transforms.json"); },
              ThrowsMessage<Error>(HasSubstr("scene/transforms.json")));
}

TEST(Dl3dv, TransformsJsonFramesProjectAKnownPointAtTheDownscaledPixel) {
  const auto root = testing::fresh_temp_dir("dl3dv_transforms");
  make_scene(root, "scene_a");
  auto dataset = open_dataset("dl3dv", root);
  ASSERT_EQ(dataset->sequences(), (std::vector<std::string>{"scene_a"}));
  ASSERT_EQ(dataset->num_frames("scene_a"), 3);
  const Clip clip = dataset->load_clip("scene_a", {0, 1, 2});
  for (int i = 0; i < 3; ++i) {
    const Frame& frame = clip.frames[i];
    EXPECT_EQ(frame.camera.width, 8);
    EXPECT_EQ(frame.camera.height, 6);
    EXPECT_THAT(frame.source, HasSubstr("images_2/frame_0000" + std::to_string(i + 1)));
    const auto p = testing::project(frame.camera, world_point_at(pose(i), 5, 1, 2, 3.0));
    EXPECT_NEAR(p.u, 5.0, 1e-9);
    EXPECT_NEAR(p.v, 1.0, 1e-9);
    EXPECT_NEAR(p.z, 3.0, 1e-9);
    // No ground-truth depth in DL3DV: zero depth, nothing valid, at the image size.
    EXPECT_EQ(frame.depth.width, 8);
    EXPECT_EQ(frame.valid.height, 6);
    EXPECT_EQ(std::count(frame.valid.pixels.begin(), frame.valid.pixels.end(), 0), 48);
  }
  EXPECT_EQ(clip.meta["reader"]["camera_source"], "transforms.json");
  EXPECT_EQ(clip.meta["reader"]["image_dir"], "images_2");
  EXPECT_FALSE(clip.meta["reader"].contains("ignored_distortion"));
  fs::remove_all(root);
}

TEST(Dl3dv, PicksTheFinestFolderOrTheRequestedOne) {
  const auto root = testing::fresh_temp_dir("dl3dv_folders");
  const fs::path scene = make_scene(root, "scene_a");
  write_images(scene, "images_4", 3, 4, 3);
  write_images(scene, "images", 3, kFullWidth, kFullHeight);
  DatasetOptions options;
  EXPECT_EQ(open_dataset("dl3dv", root, options)->load_clip("scene_a", {0}).frames[0].camera.width,
            16);
  options.dl3dv_downscale = 4;
  const Frame frame = open_dataset("dl3dv", root, options)->load_clip("scene_a", {1}).frames[0];
  EXPECT_EQ(frame.camera.width, 4);
  const auto p = testing::project(frame.camera, world_point_at(pose(1), 2, 1, 4, 1.5));
  EXPECT_NEAR(p.u, 2.0, 1e-9);
  EXPECT_NEAR(p.v, 1.0, 1e-9);
  options.dl3dv_downscale = 8;
  EXPECT_THAT([&] { open_dataset("dl3dv", root, options)->num_frames("scene_a"); },
              ThrowsMessage<Error>(HasSubstr("images_8")));
  options.dl3dv_downscale = 3;
  EXPECT_THROW(open_dataset("dl3dv", root, options), Error);
  fs::remove_all(root);
}

// Builds the COLMAP model that nerfstudio would have converted into the transforms.json frames,
// with nerfstudio's applied_transform A (x_ns = A x_colmap) baked into the transforms.
TEST(Dl3dv, ColmapTextBinaryAndTransformsWithAppliedTransformAgree) {
  const auto root = testing::fresh_temp_dir("dl3dv_colmap");
  const int frames = 3;
  // nerfstudio's default for COLMAP data: swap y and z and negate the new z, plus an offset.
  const std::array<double, 12> A{1, 0, 0, 0.3, 0, 0, 1, -0.1, 0, -1, 0, 0.2};

  ColmapModel model;
  model.cameras[1] = {1, "PINHOLE", kFullWidth, kFullHeight, {kFx, kFy, kCx, kCy}};
  json transforms = transforms_json(frames);
  transforms["applied_transform"] = {
      {A[0], A[1], A[2], A[3]}, {A[4], A[5], A[6], A[7]}, {A[8], A[9], A[10], A[11]}};
  transforms["frames"] = json::array();
  for (int i = 0; i < frames; ++i) {
    // COLMAP world: camera i as in pose(i), expressed in OpenCV axes.
    const GlPose p = pose(i);
    std::array<double, 9> R_cv_c2w{};  // negate y and z camera axes (columns)
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) R_cv_c2w[r * 3 + c] = (c == 0 ? 1 : -1) * p.R[r * 3 + c];
    // world-to-camera quaternion of R_cv_c2w^T via the matrix -> quaternion formula
    std::array<double, 9> Rw2c{};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) Rw2c[r * 3 + c] = R_cv_c2w[c * 3 + r];
    const double w = 0.5 * std::sqrt(1 + Rw2c[0] + Rw2c[4] + Rw2c[8]);
    const std::array<double, 4> q{w, (Rw2c[7] - Rw2c[5]) / (4 * w), (Rw2c[2] - Rw2c[6]) / (4 * w),
                                  (Rw2c[3] - Rw2c[1]) / (4 * w)};
    std::array<double, 3> t{};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) t[r] -= Rw2c[r * 3 + c] * p.C[c];
    const std::string name = "frame_0000" + std::to_string(i + 1) + ".png";
    model.images.push_back({static_cast<std::uint32_t>(i + 1), q, t, 1, name});
    // nerfstudio world: c2w_ns = A * c2w (rotation part and centre).
    json m = json::array();
    for (int r = 0; r < 3; ++r) {
      json row = json::array();
      for (int c = 0; c < 3; ++c) {
        double v = 0;
        for (int k = 0; k < 3; ++k) v += A[r * 4 + k] * p.R[k * 3 + c];
        row.push_back(v);
      }
      double centre = A[r * 4 + 3];
      for (int k = 0; k < 3; ++k) centre += A[r * 4 + k] * p.C[k];
      row.push_back(centre);
      m.push_back(row);
    }
    m.push_back({0, 0, 0, 1});
    transforms["frames"].push_back({{"file_path", "images/" + name}, {"transform_matrix", m}});
  }
  for (const char* name : {"text", "binary", "transforms"}) {
    fs::create_directories(root / name);
    write_images(root / name, "images_2", frames, 8, 6);
  }
  write_colmap_text(root / "text" / "sparse" / "0", model);
  write_colmap_binary(root / "binary" / "colmap" / "sparse" / "0", model);
  write_file_atomically(root / "transforms" / "transforms.json", transforms.dump());

  auto dataset = open_dataset("dl3dv", root);
  ASSERT_EQ(dataset->sequences(), (std::vector<std::string>{"binary", "text", "transforms"}));
  const Clip text = dataset->load_clip("text", {0, 1, 2});
  const Clip binary = dataset->load_clip("binary", {0, 1, 2});
  const Clip ns = dataset->load_clip("transforms", {0, 1, 2});
  EXPECT_EQ(text.meta["reader"]["camera_source"], "sparse/0");
  EXPECT_EQ(binary.meta["reader"]["camera_source"], "colmap/sparse/0");
  for (int i = 0; i < frames; ++i) {
    EXPECT_EQ(text.frames[i].camera.K, binary.frames[i].camera.K);
    EXPECT_EQ(text.frames[i].camera.cam_from_world, binary.frames[i].camera.cam_from_world);
    for (int k = 0; k < 9; ++k)
      EXPECT_NEAR(ns.frames[i].camera.K[k], text.frames[i].camera.K[k], 1e-12);
    for (int k = 0; k < 12; ++k)
      EXPECT_NEAR(ns.frames[i].camera.cam_from_world[k], text.frames[i].camera.cam_from_world[k],
                  1e-9);
    const auto p = testing::project(text.frames[i].camera, world_point_at(pose(i), 6, 4, 2, 2.0));
    EXPECT_NEAR(p.u, 6.0, 1e-9);
    EXPECT_NEAR(p.v, 4.0, 1e-9);
  }

  // Keeping nerfstudio's world instead: the same point, mapped by A, lands on the same pixel.
  DatasetOptions keep;
  keep.dl3dv_undo_applied_transform = false;
  const Clip kept = open_dataset("dl3dv", root, keep)->load_clip("transforms", {1});
  const auto X = world_point_at(pose(1), 6, 4, 2, 2.0);
  std::array<double, 3> X_ns{A[3], A[7], A[11]};
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) X_ns[r] += A[r * 4 + k] * X[k];
  const auto p = testing::project(kept.frames[0].camera, X_ns);
  EXPECT_NEAR(p.u, 6.0, 1e-9);
  EXPECT_NEAR(p.v, 4.0, 1e-9);

  // Forcing COLMAP where there is none names the scene.
  DatasetOptions colmap_only;
  colmap_only.dl3dv_cameras = "colmap";
  EXPECT_THAT([&] { open_dataset("dl3dv", root, colmap_only)->num_frames("transforms"); },
              ThrowsMessage<Error>(HasSubstr("no COLMAP model")));
  fs::remove_all(root);
}

TEST(Dl3dv, DistortionIsRecordedAndUnsupportedModelsAreRejected) {
  const auto root = testing::fresh_temp_dir("dl3dv_models");
  const fs::path scene = make_scene(root, "scene_a", 1);
  write_file_atomically(scene / "transforms.json", transforms_json(1, "OPENCV", 0.05).dump());
  auto dataset = open_dataset("dl3dv", root);
  const Clip clip = dataset->load_clip("scene_a", {0});
  EXPECT_EQ(clip.meta["reader"]["ignored_distortion"]["k1"], 0.05);

  write_file_atomically(scene / "transforms.json", transforms_json(1, "OPENCV_FISHEYE").dump());
  EXPECT_THAT(
      [&] { open_dataset("dl3dv", root)->num_frames("scene_a"); },
      ThrowsMessage<Error>(AllOf(HasSubstr("transforms.json"), HasSubstr("OPENCV_FISHEYE"))));

  json broken = transforms_json(1);
  broken["frames"][0].erase("transform_matrix");
  write_file_atomically(scene / "transforms.json", broken.dump());
  EXPECT_THAT([&] { open_dataset("dl3dv", root)->num_frames("scene_a"); },
              ThrowsMessage<Error>(AllOf(HasSubstr("frames[0]"), HasSubstr("'transform_matrix'"))));

  write_file_atomically(scene / "transforms.json", "{\"frames\": [");
  EXPECT_THAT(
      [&] { open_dataset("dl3dv", root)->num_frames("scene_a"); },
      ThrowsMessage<Error>(AllOf(HasSubstr("malformed JSON"), HasSubstr("transforms.json"))));

  fs::remove(scene / "transforms.json");
  ColmapModel model;
  model.cameras[1] = {1, "FOV", kFullWidth, kFullHeight, {10, 10, 8, 6, 0.1}};
  model.images.push_back({1, {1, 0, 0, 0}, {0, 0, 0}, 1, "frame_00001.png"});
  write_colmap_text(scene / "sparse" / "0", model);
  EXPECT_THAT([&] { open_dataset("dl3dv", root)->num_frames("scene_a"); },
              ThrowsMessage<Error>(HasSubstr("'FOV'")));
  fs::remove_all(root);
}

TEST(Dl3dv, FramesOfUnequalSizeAndMissingImagesAreErrors) {
  const auto root = testing::fresh_temp_dir("dl3dv_sizes");
  const fs::path scene = make_scene(root, "scene_a");
  // A quarter-size image in the half-size folder: a valid downscale on its own, but not of the
  // same size as its neighbours.
  write_png(scene / "images_2" / "frame_00002.png", testing::coordinate_image(4, 3));
  auto dataset = open_dataset("dl3dv", root);
  EXPECT_THAT(
      [&] {
        dataset->load_clip("scene_a", {0, 1});
      },
      ThrowsMessage<Error>(AllOf(HasSubstr("unequal size"), HasSubstr("frame_00002.png"))));
  write_png(scene / "images_2" / "frame_00002.png", testing::coordinate_image(8, 3));
  EXPECT_THAT([&] { dataset->load_clip("scene_a", {1}); },
              ThrowsMessage<Error>(HasSubstr("not a downscale")));
  fs::remove(scene / "images_2" / "frame_00003.png");
  EXPECT_THAT([&] { dataset->load_clip("scene_a", {2}); },
              ThrowsMessage<Error>(HasSubstr("frame_00003.png")));
  fs::remove_all(root);
}

TEST(Dl3dv, OptionalDepthDirectoryProvidesDepthAndValidMask) {
  const auto root = testing::fresh_temp_dir("dl3dv_depth");
  const fs::path scene = make_scene(root, "scene_a", 2);
  fs::create_directories(scene / "depth_vggt");
  for (int i = 0; i < 2; ++i) {
    ImageF32 depth(8, 6, 1, 2.0f + i);
    depth.at(1, 1) = -1.0f;  // negative depth is never valid
    ImageU8 valid(8, 6, 1, 255);
    valid.at(7, 5) = 0;
    const std::string stem = "frame_0000" + std::to_string(i + 1);
    write_depth_f32(scene / "depth_vggt" / (stem + ".depth.f32"), depth);
    write_png(scene / "depth_vggt" / (stem + ".valid.png"), valid);
  }
  DatasetOptions options;
  options.depth_dir = "depth_vggt";
  auto dataset = open_dataset("dl3dv", root, options);
  const Clip clip = dataset->load_clip("scene_a", {0, 1});
  EXPECT_EQ(clip.frames[1].depth.at(3, 3), 3.0f);
  EXPECT_EQ(clip.frames[1].valid.at(3, 3), 1);
  EXPECT_EQ(clip.frames[0].valid.at(7, 5), 0);
  EXPECT_EQ(clip.frames[0].depth.at(7, 5), 0.0f);
  EXPECT_EQ(clip.frames[0].valid.at(1, 1), 0);
  EXPECT_EQ(clip.frames[0].depth.at(1, 1), 0.0f);
  EXPECT_EQ(clip.meta["reader"]["depth_dir"], "depth_vggt");

  fs::remove(scene / "depth_vggt" / "frame_00002.valid.png");
  EXPECT_THAT([&] { dataset->load_clip("scene_a", {1}); },
              ThrowsMessage<Error>(HasSubstr("frame_00002.valid.png")));
  fs::remove_all(root);
}

TEST(Dl3dv, NestedScenesAndNineToOneHashSplit) {
  const auto root = testing::fresh_temp_dir("dl3dv_split");
  for (int i = 0; i < 10; ++i) {
    const fs::path scene = root / "1K" / ("hash" + std::to_string(i));
    fs::create_directories(scene);
    write_file_atomically(scene / "transforms.json", transforms_json(1).dump());
  }
  DatasetOptions options;
  EXPECT_EQ(open_dataset("dl3dv", root, options)->sequences().front(), "1K/hash0");
  options.split = Split::kTrain;
  const auto train = open_dataset("dl3dv", root, options)->sequences();
  options.split = Split::kTest;
  const auto test = open_dataset("dl3dv", root, options)->sequences();
  EXPECT_EQ(train.size(), 9u);
  EXPECT_EQ(test.size(), 1u);
  options.max_sequences = 5;
  options.split = Split::kAll;
  EXPECT_EQ(open_dataset("dl3dv", root, options)->sequences().back(), "1K/hash4");
  EXPECT_THAT([&] { open_dataset("dl3dv", root / "1K" / "hash0" / "nowhere"); },
              ThrowsMessage<Error>(HasSubstr("nowhere")));
  fs::remove_all(root);
}

TEST(Dl3dv, CamerasFromTransformsAndColmapAreValidatedNamingTheFrame) {
  const auto root = testing::fresh_temp_dir("dl3dv_bad_cameras");
  const fs::path scene = make_scene(root, "scene_a", 2);
  // transform_matrix with its x axis negated: orthonormal, so the reader's own check passes,
  // but a reflection is no camera.
  json transforms = transforms_json(2);
  for (int r = 0; r < 3; ++r) {
    auto& value = transforms["frames"][0]["transform_matrix"][r][0];
    value = -value.get<double>();
  }
  write_file_atomically(scene / "transforms.json", transforms.dump());
  auto dataset = open_dataset("dl3dv", root);
  EXPECT_NO_THROW(dataset->load_clip("scene_a", {0}));  // listed last: frame_00001 is fine
  EXPECT_THAT(
      [&] { dataset->load_clip("scene_a", {1}); },
      ThrowsMessage<Error>(AllOf(HasSubstr("images_2/frame_00002.png"), HasSubstr("determinant"))));

  // COLMAP: a negative focal length is read without complaint by the model reader.
  fs::remove(scene / "transforms.json");
  ColmapModel model;
  model.cameras[1] = {1, "PINHOLE", kFullWidth, kFullHeight, {-kFx, kFy, kCx, kCy}};
  model.images.push_back({1, {1, 0, 0, 0}, {0, 0, 0}, 1, "frame_00001.png"});
  write_colmap_text(scene / "sparse" / "0", model);
  EXPECT_THAT([&] { open_dataset("dl3dv", root)->load_clip("scene_a", {0}); },
              ThrowsMessage<Error>(AllOf(HasSubstr("images_2/frame_00001.png"),
                                         HasSubstr("focal lengths must be positive"))));
  fs::remove_all(root);
}

}  // namespace
}  // namespace vidprobe
