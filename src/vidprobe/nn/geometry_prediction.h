#pragma once
// What the 3D read-out heads predict for a clip (VGGT's output layout, shared by VGGT itself and
// the probe): the camera head's pose encodings and the DPT heads' dense maps with confidences.
#include <torch/torch.h>

#include <vector>

namespace vidprobe::nn {

struct GeometryPrediction {
  std::vector<torch::Tensor> pose_encodings;  // per camera iteration, (B, S, 9); back() = final
  torch::Tensor depth;                        // (B, S, H, W)
  torch::Tensor depth_conf;                   // (B, S, H, W)
  torch::Tensor world_points;                 // (B, S, H, W, 3)
  torch::Tensor world_points_conf;            // (B, S, H, W)

  const torch::Tensor& pose_encoding() const { return pose_encodings.back(); }
};

}  // namespace vidprobe::nn
