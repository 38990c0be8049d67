#pragma once
// Camera-pose metrics as in VGGT's evaluation (and the paper): for every pair of frames (i < j)
// of a clip, compare the predicted relative pose with the ground-truth relative pose.
//   rotation error  = angle of R_rel_pred^T R_rel_gt, in degrees;
//   translation err = angle between the relative translation directions, in degrees, folded to
//                     min(a, 180 - a) because the direction's sign is ambiguous (VGGT does so);
//   RRA@k / RTA@k   = fraction of pairs with rotation / translation error < k;
//   AUC@k           = mean over integer thresholds 1..k of the fraction of pairs whose
//                     max(rotation error, translation error) is below the threshold, i.e. the
//                     normalised cumulative histogram with unit bins, averaged (VGGT's
//                     calculate_auc_np).
#include <torch/types.h>

#include <map>
#include <string>

namespace vidprobe::metrics {

struct PairErrors {
  torch::Tensor rotation_deg;     // (P) one entry per frame pair i < j
  torch::Tensor translation_deg;  // (P)
};

// extrinsics (S, 3, 4) camera-from-world, S >= 2. Throws vidprobe::Error on non-finite input.
PairErrors relative_pose_errors(const torch::Tensor& pred_extrinsics,
                                const torch::Tensor& gt_extrinsics);

double pose_auc(const PairErrors& errors, int max_threshold_deg);
double rotation_accuracy(const PairErrors& errors, double threshold_deg);     // RRA
double translation_accuracy(const PairErrors& errors, double threshold_deg);  // RTA

// All of the above for one clip: keys auc5, auc15, auc30, rra5, rra15, rra30, rta5, rta15, rta30,
// rot_err_mean, trans_err_mean (degrees).
std::map<std::string, double> camera_metrics(const torch::Tensor& pred_extrinsics,
                                             const torch::Tensor& gt_extrinsics);

}  // namespace vidprobe::metrics
