#pragma once
// Batched camera geometry on torch tensors. Convention: see vidprobe/data/frame.h (OpenCV camera
// frame, extrinsics camera-from-world [R | t] as (..., 3, 4), intrinsics K as (..., 3, 3), pixel
// centres at integer coordinates, depth = camera-frame z). Leading dimensions broadcast as batch.
#include <torch/types.h>

#include <utility>

namespace vidprobe::geometry {

// Quaternions are (x, y, z, w) with w >= 0 on output (VGGT's and scipy's order). The input
// quaternion need not be normalised. rotation_to_quaternion picks, per matrix, the best conditioned
// of the four closed forms (largest of |x|, |y|, |z|, |w|), so it is accurate at 180 degrees too.
// Everything here computes in the inputs' dtype and on their device, with no host round trip.
torch::Tensor quaternion_to_rotation(const torch::Tensor& quaternion_xyzw);  // (...,4)->(...,3,3)
torch::Tensor rotation_to_quaternion(const torch::Tensor& rotation);         // (...,3,3)->(...,4)

// (..., 3, 4) <-> (..., 4, 4) homogeneous.
torch::Tensor to_homogeneous(const torch::Tensor& extrinsics);
torch::Tensor invert_extrinsics(
    const torch::Tensor& extrinsics);  // camera-from-world <-> world-from-camera
torch::Tensor compose_extrinsics(const torch::Tensor& a,
                                 const torch::Tensor& b);  // a ∘ b, (...,3,4)

// Pairwise relative poses of S cameras: out[..., i, j] = T_i * T_j^-1 (camera-j to camera-i),
// (..., S, 3, 4) -> (..., S, S, 4, 4).
torch::Tensor relative_poses(const torch::Tensor& extrinsics);

// VGGT's "absT_quaR_FoV" pose encoding: (..., 9) = [t (3), quaternion xyzw (4), fov_h, fov_w]
// with fov_h = 2 atan(H / (2 fy)), fov_w = 2 atan(W / (2 fx)). Decoding puts the principal point
// at the image centre (W / 2, H / 2), as VGGT does (in vidprobe's pixel-centre convention the
// exact centre is ((W - 1) / 2, (H - 1) / 2); W / 2 is kept to match VGGT). The encoding ignores
// the principal point and skew. The dtype is kept (VGGT casts the encoding to float32).
torch::Tensor extrinsics_intrinsics_to_pose_encoding(const torch::Tensor& extrinsics,
                                                     const torch::Tensor& intrinsics,
                                                     int64_t height, int64_t width);
std::pair<torch::Tensor, torch::Tensor> pose_encoding_to_extrinsics_intrinsics(
    const torch::Tensor& encoding, int64_t height, int64_t width);

// depth (..., H, W) -> camera-frame points (..., H, W, 3).
torch::Tensor depth_to_camera_points(const torch::Tensor& depth, const torch::Tensor& intrinsics);
// depth (..., H, W) -> world points (..., H, W, 3).
torch::Tensor depth_to_world_points(const torch::Tensor& depth, const torch::Tensor& intrinsics,
                                    const torch::Tensor& extrinsics);
// world points (..., H, W, 3) -> z-depth (..., H, W) in the given camera.
torch::Tensor world_points_to_depth(const torch::Tensor& world_points,
                                    const torch::Tensor& extrinsics);
// world points (..., N, 3) -> pixel coordinates (..., N, 2) and depth (..., N). Points behind or
// on the camera plane are not masked: their depth is <= 0 (inf/NaN pixels at depth 0).
std::pair<torch::Tensor, torch::Tensor> project_points(const torch::Tensor& world_points,
                                                       const torch::Tensor& intrinsics,
                                                       const torch::Tensor& extrinsics);

}  // namespace vidprobe::geometry
