#pragma once
// The probe = aggregator + three read-out heads (VGGT's layout): a DPT head for world points
// (3 values + confidence), a DPT head for depth (1 value + confidence) and the camera head for
// the absT_quaR_FoV pose encoding. All outputs live in the normalised frame of the ground truth
// (first camera = identity, mean point distance 1; see geometry/normalization.h).
#include <torch/torch.h>

#include <vector>

#include "vidprobe/probe/aggregator.h"
#include "vidprobe/probe/camera_head.h"
#include "vidprobe/probe/dpt_head.h"
#include "vidprobe/probe/probe_config.h"

namespace vidprobe::probe {

struct ProbePrediction {
  std::vector<torch::Tensor> pose_encodings;  // per camera iteration, (B, S, 9); back() = final
  torch::Tensor depth;                        // (B, S, H, W)
  torch::Tensor depth_conf;                   // (B, S, H, W)
  torch::Tensor world_points;                 // (B, S, H, W, 3)
  torch::Tensor world_points_conf;            // (B, S, H, W)
  const torch::Tensor& pose_encoding() const { return pose_encodings.back(); }
};

struct ProbeModelImpl : torch::nn::Module {
  ProbeModelImpl(const ProbeConfig& config, int64_t feature_dim);
  // features (B, S, C, h, w); (height, width) = resolution of the dense outputs (the GT's).
  ProbePrediction forward(const torch::Tensor& features, int64_t height, int64_t width);

  ProbeConfig config;
  int64_t feature_dim;
  Aggregator aggregator{nullptr};
  DptHead point_head{nullptr}, depth_head{nullptr};
  CameraHead camera_head{nullptr};
};
TORCH_MODULE(ProbeModel);

std::int64_t count_parameters(torch::nn::Module& module);

}  // namespace vidprobe::probe
