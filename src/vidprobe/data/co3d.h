#pragma once
// CO3Dv2 reader (facebookresearch/co3d). Layout under the dataset root:
//   <category>/frame_annotations.jgz     gzipped JSON list of frame annotations
//   <category>/sequence_annotations.jgz  (not needed here)
//   <category>/set_lists/set_lists_<name>.json  {"train"|"val"|"test": [[sequence, frame, path]]}
//   <category>/<sequence>/{images,depths,depth_masks,masks}/...  paths as in the annotations,
//   relative to the dataset root.
// Sequence ids are "<category>/<sequence_name>"; frames are ordered by frame_number.
//
// Cameras are stored in PyTorch3D's convention: row vectors, X_cam = X_world R + T, camera axes
// +X left, +Y up, +Z forward, and NDC intrinsics whose [-1, 1] range spans the image's outer
// pixel edges (of the shorter side for "ndc_isotropic", of each side for
// "ndc_norm_image_bounds"), with +x_ndc pointing left and +y_ndc up.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "vidprobe/data/dataset.h"

namespace vidprobe {

struct Co3dViewpoint {
  std::array<double, 9> R{};  // row-major, as stored (right-multiplied by row vectors)
  std::array<double, 3> T{};
  std::array<double, 2> focal_length{};
  std::array<double, 2> principal_point{};
  std::string intrinsics_format = "ndc_norm_image_bounds";  // CO3D's default when absent
};

// Exact conversion to our camera (data/frame.h) for an image of width x height pixels:
//   R_cv = F R^T, t_cv = F T with F = diag(-1, -1, 1) (x and y axes flip);
//   with half sizes (W/2, H/2) and scale s = min(W, H)/2 (isotropic) or (W/2, H/2) per axis,
//   fx = s_x f_x, cx = W/2 - s_x p_x - 0.5 (the last term moves the origin from the top-left
//   pixel's corner to its centre); likewise for y.
// Throws vidprobe::Error naming the format when it is neither NDC variant.
Camera co3d_camera_to_opencv(const Co3dViewpoint& viewpoint, int width, int height);

// IEEE 754 half precision bit pattern to float (subnormals, infinities and NaN included).
float half_to_float(std::uint16_t bits);

// A CO3D depth PNG: 16-bit gray whose values are float16 bit patterns; depth = value *
// scale_adjustment; non-finite values become 0.
ImageF32 read_co3d_depth(const std::filesystem::path& png, double scale_adjustment);

std::unique_ptr<Dataset> open_co3d_dataset(const std::filesystem::path& root,
                                           const DatasetOptions& options);

}  // namespace vidprobe
