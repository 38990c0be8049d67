#include "vidprobe/data/camera_validation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

using Matrix3 = std::array<double, 9>;

std::string format_number(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

Matrix3 rotation_of(const Camera& camera) {
  Matrix3 rotation{};
  for (std::size_t row = 0; row < 3; ++row)
    for (std::size_t col = 0; col < 3; ++col)
      rotation[row * 3 + col] = camera.cam_from_world[row * 4 + col];
  return rotation;
}

// max over entries of |R R^T - I|.
double orthonormality_error(const Matrix3& r) {
  double worst = 0.0;
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      double dot = 0.0;
      for (std::size_t k = 0; k < 3; ++k) dot += r[i * 3 + k] * r[j * 3 + k];
      worst = std::max(worst, std::abs(dot - (i == j ? 1.0 : 0.0)));
    }
  return worst;
}

double determinant(const Matrix3& r) {
  return r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) +
         r[2] * (r[3] * r[7] - r[4] * r[6]);
}

void require_finite(const Camera& camera, const std::string& where) {
  for (std::size_t i = 0; i < camera.K.size(); ++i)
    require(std::isfinite(camera.K[i]), [&] {
      return where + ": intrinsics K[" + std::to_string(i) + "] is not finite (" +
             format_number(camera.K[i]) + ")";
    });
  for (std::size_t i = 0; i < camera.cam_from_world.size(); ++i)
    require(std::isfinite(camera.cam_from_world[i]), [&] {
      return where + ": cam_from_world[" + std::to_string(i) + "] is not finite (" +
             format_number(camera.cam_from_world[i]) + ")";
    });
}

void require_pinhole_intrinsics(const Camera& camera, const std::string& where) {
  const auto& K = camera.K;
  require(K[0] > 0 && K[4] > 0, [&] {
    return where + ": focal lengths must be positive, got fx = " + format_number(K[0]) +
           ", fy = " + format_number(K[4]);
  });
  // Entries below the diagonal or a bottom row other than (0, 0, 1) make K no pinhole matrix;
  // back-projection (data/frame.h) would silently ignore them. Skew K[0][1] is kept (resize
  // scales it).
  require(K[3] == 0 && K[6] == 0 && K[7] == 0 && K[8] == 1, [&] {
    return where + ": intrinsics must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got K = [" +
           format_number(K[0]) + ", " + format_number(K[1]) + ", " + format_number(K[2]) + "; " +
           format_number(K[3]) + ", " + format_number(K[4]) + ", " + format_number(K[5]) + "; " +
           format_number(K[6]) + ", " + format_number(K[7]) + ", " + format_number(K[8]) + "]";
  });
}

void require_rotation(const Camera& camera, const std::string& where) {
  const Matrix3 rotation = rotation_of(camera);
  const double error = orthonormality_error(rotation);
  require(error <= kRotationTolerance, [&] {
    return where + ": cam_from_world rotation is not orthonormal (max |R R^T - I| = " +
           format_number(error) + " > " + format_number(kRotationTolerance) + ")";
  });
  const double det = determinant(rotation);
  require(std::abs(det - 1.0) <= kRotationTolerance, [&] {
    return where + ": cam_from_world rotation has determinant " + format_number(det) +
           " (a reflection; a camera-from-world rotation has +1)";
  });
}

}  // namespace

void validate_camera(const Camera& camera, const std::string& source) {
  const std::string where = "camera of " + source;
  require(camera.width > 0 && camera.height > 0, [&] {
    return where + ": image size must be positive, got " + std::to_string(camera.width) + "x" +
           std::to_string(camera.height);
  });
  require_finite(camera, where);
  require_pinhole_intrinsics(camera, where);
  require_rotation(camera, where);
}

}  // namespace vidprobe
