#pragma once
// Helpers shared by the dataset reader tests: temporary directories, tiny images and the
// pinhole projection of our camera convention (data/frame.h), written out independently of the
// readers so a test can fail when a reader's conversion is wrong.
#include <unistd.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <string>

#include "vidprobe/data/frame.h"
#include "vidprobe/io/image.h"

namespace vidprobe::testing {

inline std::filesystem::path fresh_temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("vidprobe_data_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct Projection {
  double u = 0, v = 0, z = 0;
};

// x_cam = R x + t, then [u, v] = (K x_cam) / z.
inline Projection project(const Camera& camera, const std::array<double, 3>& world) {
  const auto& E = camera.cam_from_world;
  std::array<double, 3> c{};
  for (int r = 0; r < 3; ++r)
    c[r] = E[r * 4] * world[0] + E[r * 4 + 1] * world[1] + E[r * 4 + 2] * world[2] + E[r * 4 + 3];
  const auto& K = camera.K;
  return {(K[0] * c[0] + K[1] * c[1] + K[2] * c[2]) / c[2], (K[4] * c[1] + K[5] * c[2]) / c[2],
          c[2]};
}

// Row-major rotation about a unit axis by angle (Rodrigues), to build non-trivial poses.
inline std::array<double, 9> axis_angle(std::array<double, 3> axis, double angle) {
  const double n = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
  for (auto& a : axis) a /= n;
  const double c = std::cos(angle), s = std::sin(angle), k = 1 - c;
  const double x = axis[0], y = axis[1], z = axis[2];
  return {c + x * x * k,     x * y * k - z * s, x * z * k + y * s, y * x * k + z * s, c + y * y * k,
          y * z * k - x * s, z * x * k - y * s, z * y * k + x * s, c + z * z * k};
}

// A w x h RGB image whose pixels encode their coordinates (r = x, g = y), so a test can tell
// which source pixel ended up where.
inline ImageU8 coordinate_image(int w, int h) {
  ImageU8 image(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      image.at(x, y, 0) = static_cast<std::uint8_t>(x);
      image.at(x, y, 1) = static_cast<std::uint8_t>(y);
      image.at(x, y, 2) = 7;
    }
  return image;
}

}  // namespace vidprobe::testing
