#pragma once
// Torch-free frame and clip records shared by the renderer, the dataset readers and the feature
// extractor.
//
// Camera convention (the only one in vidprobe; converters from other conventions live in the
// dataset readers):
//  * OpenCV camera frame: +x right, +y down, +z forward (looking direction).
//  * Extrinsics are camera-from-world [R | t], stored row-major as 3 x 4 doubles:
//    x_cam = R * x_world + t. The camera centre in world coordinates is -R^T t.
//  * Intrinsics K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] in pixels, row-major 3 x 3, with
//    pixel centres at integer coordinates (the top-left pixel's centre is (0, 0), as in OpenCV).
//    A pixel (u, v) with depth z back-projects to x_cam = z * K^-1 [u, v, 1]^T.
//  * Depth is the z coordinate in the camera frame (not the ray length), in metres for synthetic
//    data and in the dataset's own unit otherwise; invalid pixels have valid == 0 and depth 0.
#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/io/image.h"

namespace vidprobe {

struct Camera {
  int width = 0, height = 0;
  std::array<double, 9> K{};                // row-major 3 x 3
  std::array<double, 12> cam_from_world{};  // row-major 3 x 4 [R | t]
};

struct Frame {
  ImageU8 rgb;     // H x W x 3
  ImageF32 depth;  // H x W x 1, z-depth, 0 where invalid
  ImageU8 valid;   // H x W x 1, 1 = valid depth, 0 = sky / background / unknown
  // H x W x 1 or empty: how far the depth is trusted (VGGT's depth_conf for pseudo-GT, the
  // authors' confmaps); it weighs the GT-confidence losses. Empty = exact GT, valid is the weight.
  ImageF32 confidence;
  // H x W x 1 or empty: the dataset's foreground probability x 255 (CO3D's masks/*.png), kept for
  // the authors' object crop and the masks of their .sft files; never a depth mask by itself.
  ImageU8 object_mask;
  Camera camera;
  std::string source;  // file or frame identifier, for error messages
};

struct Clip {
  std::string id;
  std::vector<Frame> frames;
  nlohmann::json meta;  // dataset-specific provenance (scene seed, sequence name, frame indices)
};

}  // namespace vidprobe
