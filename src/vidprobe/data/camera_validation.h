#pragma once
// The one check every dataset reader's cameras pass before anyone uses them (Dataset::load_clip
// calls it for every frame): a camera that is not a pinhole in our convention (data/frame.h)
// would silently turn into wrong depth, points and pose targets downstream.
#include <string>

#include "vidprobe/data/frame.h"

namespace vidprobe {

// Largest |R R^T - I| entry and |det R - 1| accepted. Cameras stored as float32 (CO3D, DL3DV and
// the vidfm3d fixtures' extrinsics) are orthonormal to about 2.4e-7; 1e-4 leaves two orders of
// magnitude for rounding while a rotation scaled by 1.0001 or sheared is refused.
inline constexpr double kRotationTolerance = 1e-4;

// Throws vidprobe::Error naming source (the file or frame) and what is wrong when the camera has
// a non-positive size, a non-finite value, a non-positive focal length, intrinsics that are not
// [[fx, s, cx], [0, fy, cy], [0, 0, 1]], or a rotation that is not orthonormal with det +1.
void validate_camera(const Camera& camera, const std::string& source);

}  // namespace vidprobe
