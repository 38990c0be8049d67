#pragma once
// The probe = aggregator + three read-out heads (VGGT's layout): a DPT head for world points
// (3 values + confidence), a DPT head for depth (1 value + confidence) and the camera head for
// the absT_quaR_FoV pose encoding. All outputs live in the normalised frame of the ground truth
// (first camera = identity, mean point distance 1; see geometry/normalization.h).
#include <torch/torch.h>

#include <vector>

#include "vidprobe/nn/camera_head.h"
#include "vidprobe/nn/dpt_head.h"
#include "vidprobe/nn/geometry_prediction.h"
#include "vidprobe/probe/aggregator.h"
#include "vidprobe/probe/probe_config.h"

namespace vidprobe::probe {

struct ProbeModelImpl : torch::nn::Module {
  ProbeModelImpl(const ProbeConfig& config, int64_t feature_dim);
  // features (B, S, C, h, w); (height, width) = resolution of the dense outputs (the GT's).
  nn::GeometryPrediction forward(const torch::Tensor& features, int64_t height, int64_t width);

  ProbeConfig config;
  int64_t feature_dim;
  Aggregator aggregator{nullptr};
  nn::DptHead point_head{nullptr}, depth_head{nullptr};
  nn::CameraHead camera_head{nullptr};
};
TORCH_MODULE(ProbeModel);

std::int64_t count_parameters(torch::nn::Module& module);

}  // namespace vidprobe::probe
