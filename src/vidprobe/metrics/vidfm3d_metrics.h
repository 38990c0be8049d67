#pragma once
// The paper's metrics exactly as the authors' code computes them (zxhuang1698/VidFM3D:
// vidfm3d/utils/loss.py camera_loss(return_metrics=True), utils/metrics.py, utils/eval_utils.py
// build_mask / align_pmaps, models/video_probe_module.py validation_step), kept apart from
// vidprobe's own metrics (camera_metrics.h, point_metrics.h, depth_metrics.h), which follow VGGT's
// evaluation. What differs, and why both exist, is in docs/protocol.md. In short:
//   camera   pairs i < j of a clip; relative pose inv(E_i) E_j (camera-from-world E); rotation
//            error arccos(1 - 2 clamp(1 - <q_pred, q_gt>^2, 1e-15)), translation error the angle
//            between the relative translations folded to [0, 90]; all in float32.
//            Auc_k = mean of the first k entries of the cumulated histogram of max(r, t) over 31
//            bins of width 30/31 degrees on [0, 30] (torch.histc), normalised by the pair count:
//            thresholds 0.968, 1.935, ... degrees, not 1, 2, ...; Rac_k / Tac_k = fraction of
//            pairs with rotation / translation error < k.
//   points   pmap_mse_aligned: the Sim(3) fitted on the pixels whose GT confidence is at least its
//            75th percentile over the clip, applied to every predicted point; then the
//            GT-confidence-weighted mean distance sum(c ||a - g||) / (sum c + 1e-6).
//   depth    loss_depth: mean over the pixels of clamp(c |d_pred - d_gt|, -100, 100), in the
//            normalised units, no alignment (the training depth loss).
// Aggregation as their Lightning logging: pairs pooled over clips for the camera numbers, per-clip
// values averaged over clips for points and depth.
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

namespace vidprobe::metrics {

struct Vidfm3dPairErrors {
  torch::Tensor rotation_deg;     // (P) float32
  torch::Tensor translation_deg;  // (P) float32
};

// (..., 9) absT_quaR_FoV encodings -> (..., 3, 4) extrinsics, with the authors' quat_to_mat
// arithmetic (VGGT's; the quaternion need not be unit).
torch::Tensor vidfm3d_decode_extrinsics(const torch::Tensor& pose_encoding);

// extrinsics (S, 3, 4), S >= 2; pairs in torch.combinations order.
Vidfm3dPairErrors vidfm3d_pair_errors(const torch::Tensor& pred_extrinsics,
                                      const torch::Tensor& gt_extrinsics);
Vidfm3dPairErrors concatenate(const std::vector<Vidfm3dPairErrors>& clips);

// Auc_k (k <= 30) with the authors' 31-bin histogram.
double vidfm3d_auc(const Vidfm3dPairErrors& errors, int k);
// Auc_30, Auc_10, Auc_5, Auc_3, Rac_5, Rac_15, Tac_5, Tac_15.
std::map<std::string, double> vidfm3d_camera_metrics(const Vidfm3dPairErrors& errors);

// The 75th-percentile confidence mask of build_mask (numpy's linear percentile over all values).
torch::Tensor vidfm3d_confidence_mask(const torch::Tensor& confidence, double quantile = 0.75);

// pred, gt (S, H, W, 3); confidence (S, H, W) >= 0.
double vidfm3d_point_error(const torch::Tensor& pred, const torch::Tensor& gt,
                           const torch::Tensor& confidence);

// pred, gt, confidence (S, H, W); mean over the pixels where valid (S, H, W) bool holds.
double vidfm3d_depth_error(const torch::Tensor& pred, const torch::Tensor& gt,
                           const torch::Tensor& confidence, const torch::Tensor& valid);

}  // namespace vidprobe::metrics
