#pragma once
// COLMAP sparse models (cameras + images; points3D is not needed) in both the text and the
// binary formats. COLMAP stores world-to-camera poses in the OpenCV camera frame (quaternion
// qw qx qy qz and translation), and intrinsics in pixels with the top-left pixel's centre at
// (0.5, 0.5); colmap_camera() converts to our convention (centre at (0, 0)).
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "vidprobe/data/frame.h"

namespace vidprobe {

struct ColmapCamera {
  std::uint32_t id = 0;
  std::string model;  // "PINHOLE", "SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV", ...
  int width = 0, height = 0;
  std::vector<double> params;  // COLMAP's order for the model
};

struct ColmapImage {
  std::uint32_t id = 0;
  std::array<double, 4> qvec{1, 0, 0, 0};  // w, x, y, z (world-to-camera rotation)
  std::array<double, 3> tvec{};
  std::uint32_t camera_id = 0;
  std::string name;
};

struct ColmapModel {
  std::map<std::uint32_t, ColmapCamera> cameras;
  std::vector<ColmapImage> images;  // sorted by name
};

// Reads <dir>/cameras.{bin,txt} and <dir>/images.{bin,txt}; binary is preferred when both exist.
// Throws vidprobe::Error naming the file and line/record on malformed input, unknown camera
// models, or images that reference a missing camera.
ColmapModel read_colmap_model(const std::filesystem::path& dir);
ColmapModel read_colmap_text(const std::filesystem::path& dir);
ColmapModel read_colmap_binary(const std::filesystem::path& dir);

// Writers (for fixtures and tools); images are written without 2D points.
void write_colmap_text(const std::filesystem::path& dir, const ColmapModel& model);
void write_colmap_binary(const std::filesystem::path& dir, const ColmapModel& model);

// Pinhole part of a COLMAP camera and the distortion coefficients that a pinhole camera drops.
struct ColmapIntrinsics {
  double fx = 0, fy = 0, cx = 0, cy = 0;  // COLMAP pixel convention (centre of top-left = 0.5)
  std::vector<double> distortion;         // model-specific order (e.g. OPENCV: k1 k2 p1 p2)
  bool has_distortion() const;
};
// Supported: SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, OPENCV, FULL_OPENCV. Others throw
// vidprobe::Error naming the model.
ColmapIntrinsics colmap_intrinsics(const ColmapCamera& camera);

// Our camera (data/frame.h) for an image, at the camera's own resolution.
Camera colmap_camera(const ColmapCamera& camera, const ColmapImage& image);

// Row-major rotation matrix of a unit quaternion (w, x, y, z); normalises the input.
std::array<double, 9> quaternion_to_rotation(const std::array<double, 4>& qvec);

}  // namespace vidprobe
