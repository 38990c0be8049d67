#pragma once
// Helpers shared by the renderer tests: small fast settings and pinhole maths written
// independently of the renderer (double precision, straight from the frame.h convention).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>

#include "vidprobe/data/frame.h"
#include "vidprobe/render/clip.h"

namespace vidprobe::testing_render {

inline render::RenderSettings small_settings(render::Family family, std::uint64_t seed,
                                             int frames = 6, int size = 64) {
  render::RenderSettings settings;
  settings.generation.family = family;
  settings.generation.seed = seed;
  settings.generation.frames = frames;
  settings.generation.width = size;
  settings.generation.height = size;
  settings.threads = 2;
  return settings;
}

using Vec3d = std::array<double, 3>;

inline std::string family_test_name(const ::testing::TestParamInfo<render::Family>& param) {
  return render::family_name(param.param);
}

// World point seen at pixel (u, v) with z-depth z.
inline Vec3d back_project(const Camera& c, double u, double v, double z) {
  const auto& K = c.K;
  const auto& E = c.cam_from_world;
  const double x_cam[3] = {(u - K[2]) / K[0] * z, (v - K[5]) / K[4] * z, z};
  Vec3d world{};
  for (int k = 0; k < 3; ++k) {
    // R^T (x_cam - t)
    world[k] = E[0 * 4 + k] * (x_cam[0] - E[3]) + E[1 * 4 + k] * (x_cam[1] - E[7]) +
               E[2 * 4 + k] * (x_cam[2] - E[11]);
  }
  return world;
}

// Camera-frame coordinates of a world point.
inline Vec3d to_camera(const Camera& c, const Vec3d& w) {
  const auto& E = c.cam_from_world;
  Vec3d x{};
  for (int r = 0; r < 3; ++r)
    x[r] = E[r * 4] * w[0] + E[r * 4 + 1] * w[1] + E[r * 4 + 2] * w[2] + E[r * 4 + 3];
  return x;
}

inline Vec3d centre(const Camera& c) {
  const auto& E = c.cam_from_world;
  Vec3d out{};
  for (int k = 0; k < 3; ++k) out[k] = -(E[k] * E[3] + E[4 + k] * E[7] + E[8 + k] * E[11]);
  return out;
}

inline double distance(const Vec3d& a, const Vec3d& b) {
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                   (a[2] - b[2]) * (a[2] - b[2]));
}

// Angle (radians) of the relative rotation R_a R_b^T.
inline double rotation_angle(const Camera& a, const Camera& b) {
  double trace = 0;
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 3; ++k) trace += a.cam_from_world[i * 4 + k] * b.cam_from_world[i * 4 + k];
  }
  return std::acos(std::clamp((trace - 1) / 2, -1.0, 1.0));
}

}  // namespace vidprobe::testing_render
