#pragma once
// The probe's training objective, following VGGT's training/loss.py and the authors' probe
// (vidfm3d/utils/loss.py):
//   dense terms (depth and points), over valid pixels i:
//     conf  = mean_i clamp(gamma * c_i * ||p_i - g_i|| - alpha * log c_i, -100, 100), c_i the
//             head's predicted confidence (VGGT's aleatoric loss) or the GT confidence (the
//             authors': alpha 0), prediction and GT optionally each divided by their mean point
//             norm over the clip's valid pixels first (the authors' point loss)
//     reg   = mean_i ||p_i - g_i||
//     grad  = multi-scale spatial term, confidence-weighted, either
//             "grad":   |d(p - g)/dx| and |d(p - g)/dy| between valid neighbours (L1), or
//             "normal": 1 - cos between the surface normals of prediction and GT (point maps);
//     dense = weight * (conf + reg_weight * reg + grad)
//   camera: L1 (or Huber / L2) between predicted and GT pose encodings, split into translation,
//     quaternion and field-of-view parts weighted 1 / 1 / 0.5 (each elementwise clamped to 100, as
//     both references), every refinement iteration weighted gamma^(iterations - 1 - k) and
//     averaged; camera = weight * (that).
// Differences from VGGT, on purpose: the confidence regulariser of the gradient term only counts
// pixel pairs that are valid (VGGT also rewards confidence on invalid pixels), and no frame or
// batch is skipped below 100 valid pixels (the probe's maps can be tiny); a batch without any
// valid pixel contributes zero.
#include <torch/torch.h>

#include <map>
#include <string>

#include "vidprobe/probe/probe_config.h"
#include "vidprobe/probe/probe_model.h"

namespace vidprobe::probe {

// Supervision in the normalised frame (see geometry::normalize_scene).
struct ProbeTargets {
  torch::Tensor depth;          // (B, S, H, W)
  torch::Tensor world_points;   // (B, S, H, W, 3)
  torch::Tensor valid;          // (B, S, H, W) bool
  torch::Tensor confidence;     // (B, S, H, W) float: GT confidence, 0 where invalid
  torch::Tensor pose_encoding;  // (B, S, 9)
  torch::Tensor extrinsics;     // (B, S, 3, 4) normalised, first camera = identity
  ProbeTargets to(torch::Device device) const;
};

struct LossOutput {
  torch::Tensor total;                         // scalar objective
  std::map<std::string, torch::Tensor> terms;  // detached scalars for logging
};

struct RegressionTerms {
  torch::Tensor conf, reg, grad;
};

// pred, gt (B, S, H, W, C); mask (B, S, H, W) bool; predicted_conf and gt_conf (B, S, H, W);
// config.confidence picks which weighs the distances.
RegressionTerms regression_loss(const torch::Tensor& pred, const torch::Tensor& gt,
                                const torch::Tensor& mask, const torch::Tensor& predicted_conf,
                                const torch::Tensor& gt_conf, const RegressionLossConfig& config);

// Divides each batch element's (B, S, H, W, 3) points by their mean norm over the mask, clamped
// to [1e-3, 1e3] (the authors' normalize_pointcloud; the count gets + 1e-3 as theirs).
torch::Tensor normalize_points(const torch::Tensor& points, const torch::Tensor& mask);

// Single-scale spatial gradient term on (N, H, W, C) maps; conf (N, H, W) or undefined.
// Returns sum over valid neighbour pairs and channels / number of valid (pixel, channel) entries.
torch::Tensor gradient_loss(const torch::Tensor& pred, const torch::Tensor& gt,
                            const torch::Tensor& mask, const torch::Tensor& conf, double gamma,
                            double alpha);
// Single-scale normal term on (N, H, W, 3) point maps; conf (N, H, W) or undefined.
torch::Tensor normal_loss(const torch::Tensor& pred, const torch::Tensor& gt,
                          const torch::Tensor& mask, const torch::Tensor& conf, double gamma,
                          double alpha);

struct CameraTerms {
  torch::Tensor total, translation, rotation, fov;
};
CameraTerms camera_loss(const std::vector<torch::Tensor>& pose_encodings,
                        const torch::Tensor& gt_pose_encoding, const CameraLossConfig& config);

LossOutput probe_loss(const nn::GeometryPrediction& prediction, const ProbeTargets& targets,
                      const LossConfig& config);

}  // namespace vidprobe::probe
