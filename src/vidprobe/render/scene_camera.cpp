#include "vidprobe/render/scene_camera.h"

#include <cmath>

namespace vidprobe::render {

std::array<double, 9> intrinsics_from_fov(int width, int height, double fov_x_radians) {
  const double focal = 0.5 * width / std::tan(0.5 * fov_x_radians);
  return {focal, 0, 0.5 * (width - 1), 0, focal, 0.5 * (height - 1), 0, 0, 1};
}

std::array<double, 12> look_along(Vec3 eye, Vec3 forward_in, float roll) {
  const Vec3 forward = normalize(forward_in);
  Vec3 right = cross(forward, Vec3{0, 0, 1});
  if (length(right) < 1e-6f) right = Vec3{1, 0, 0};  // looking straight up or down
  right = normalize(right);
  const Vec3 down = cross(forward, right);
  const float c = std::cos(roll), s = std::sin(roll);
  const Vec3 rolled_right = right * c + down * s;
  const Vec3 rolled_down = down * c - right * s;
  const Vec3 rows[3] = {rolled_right, rolled_down, forward};
  std::array<double, 12> E{};
  for (int r = 0; r < 3; ++r) {
    E[r * 4 + 0] = rows[r].x;
    E[r * 4 + 1] = rows[r].y;
    E[r * 4 + 2] = rows[r].z;
    E[r * 4 + 3] = -static_cast<double>(dot(rows[r], eye));
  }
  return E;
}

Camera make_camera(int width, int height, double fov_x_radians, Vec3 eye, Vec3 forward,
                   float roll) {
  Camera camera;
  camera.width = width;
  camera.height = height;
  camera.K = intrinsics_from_fov(width, height, fov_x_radians);
  camera.cam_from_world = look_along(eye, forward, roll);
  return camera;
}

Vec3 camera_centre(const Camera& camera) {
  const auto& E = camera.cam_from_world;
  double c[3];
  for (int k = 0; k < 3; ++k) c[k] = -(E[0 + k] * E[3] + E[4 + k] * E[7] + E[8 + k] * E[11]);
  return {static_cast<float>(c[0]), static_cast<float>(c[1]), static_cast<float>(c[2])};
}

SmoothSignal::SmoothSignal(Rng& rng, float base_frequency) {
  float total = 0;
  for (int k = 0; k < 3; ++k) {
    frequency_[k] = base_frequency * rng.uniform(0.5f, 1.5f) * static_cast<float>(k + 1);
    phase_[k] = rng.uniform(0, 2 * kPi);
    weight_[k] = rng.uniform(0.3f, 1.0f) / static_cast<float>(k + 1);
    total += weight_[k];
  }
  for (float& w : weight_) w /= total;
}

float SmoothSignal::at(float s) const {
  float sum = 0;
  for (int k = 0; k < 3; ++k) sum += weight_[k] * std::sin(2 * kPi * frequency_[k] * s + phase_[k]);
  return sum;
}

}  // namespace vidprobe::render
