#pragma once
// Camera construction (look-at with roll, pinhole intrinsics from a field of view) and smooth
// random motion signals for the trajectories.
#include "vidprobe/data/frame.h"
#include "vidprobe/render/scene_math.h"

namespace vidprobe::render {

// Pinhole K for a horizontal field of view; principal point at the image centre
// ((w - 1) / 2, (h - 1) / 2 since pixel centres are at integer coordinates); square pixels.
std::array<double, 9> intrinsics_from_fov(int width, int height, double fov_x_radians);

// cam_from_world for a camera at eye looking along forward, world up = +z, rotated by roll
// (radians, positive = clockwise in the image) about the viewing axis.
std::array<double, 12> look_along(Vec3 eye, Vec3 forward, float roll);

Camera make_camera(int width, int height, double fov_x_radians, Vec3 eye, Vec3 forward, float roll);

// Camera centre -R^T t of a camera.
Vec3 camera_centre(const Camera& camera);

// Smooth zero-mean random signal: a sum of three sines with random phases, frequencies in
// cycles per unit of s (s runs over [0, 1] along the clip) and unit-ish amplitude.
class SmoothSignal {
 public:
  SmoothSignal() = default;
  SmoothSignal(Rng& rng, float base_frequency);
  float at(float s) const;

 private:
  float frequency_[3] = {}, phase_[3] = {}, weight_[3] = {};
};

}  // namespace vidprobe::render
