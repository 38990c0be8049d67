#pragma once
// DL3DV reader. A dataset root holds scene folders (directly, or one level down such as
// "1K/<hash>"); a scene folder holds
//   images/ and/or images_2/, images_4/, images_8/   the same frames at several resolutions
//   transforms.json          nerfstudio cameras (fl_x, fl_y, cx, cy, w, h, optional distortion
//                            and per-frame overrides; frames[].file_path and transform_matrix =
//                            OpenGL camera-to-world: x right, y up, z backward; optional
//                            applied_transform, the 3x4 map nerfstudio applied to the world)
//   and/or sparse/0/ or colmap/sparse/0/  a COLMAP model (text or binary).
// Sequence ids are scene folder paths relative to the root. Frames are ordered by file name.
// Intrinsics refer to the full-resolution images (w x h) and are scaled exactly to the folder
// actually read. DL3DV has no ground-truth depth: frames get zero depth and an all-zero valid
// mask unless DatasetOptions::depth_dir names a per-scene depth folder (docs/datasets.md).
#include <array>
#include <filesystem>
#include <memory>

#include "vidprobe/data/dataset.h"

namespace vidprobe {

// OpenGL camera-to-world (4x4 row-major; last row ignored) to our camera-from-world [R | t].
// applied_transform, when given, is nerfstudio's 3x4 world map (rotation + translation) and is
// undone so the cameras live in the original (COLMAP) world frame. Throws vidprobe::Error when
// a rotation part is not orthonormal; context names the file and key.
std::array<double, 12> opengl_c2w_to_cam_from_world(const std::array<double, 16>& c2w,
                                                    const std::array<double, 12>* applied_transform,
                                                    const std::string& context);

std::unique_ptr<Dataset> open_dl3dv_dataset(const std::filesystem::path& root,
                                            const DatasetOptions& options);

}  // namespace vidprobe
