#pragma once
// Camera-pose metrics as in VGGT's evaluation (evaluation/test_co3d.py, and the paper): for every
// pair of frames (i < j) of a clip, in the order of torch.combinations (VGGT's build_pair_index),
// compare the predicted relative pose T_i T_j^-1 with the ground-truth one.
//   rotation error  = angle of R_rel_pred^T R_rel_gt, in degrees (VGGT takes it from the dot
//                     product of the two quaternions; same angle);
//   translation err = angle between the relative translation directions, in degrees, folded to
//                     min(a, 180 - a) because the direction's sign is ambiguous (VGGT does so);
//   RRA@k / RTA@k   = fraction of pairs with rotation / translation error < k;
//   AUC@k           = VGGT's calculate_auc_np: np.histogram of max(rotation error, translation
//                     error) with unit bins [0,1), [1,2), ..., [k-1,k] (the last bin includes k,
//                     as numpy's does), normalised by the pair count, cumulated, averaged over the
//                     k bins. Equivalently the mean over t = 1..k of the fraction of pairs whose
//                     max error is < t (<= k for t = k). VGGT uses the max of the two errors.
//
// Numerical differences from VGGT, all below 1e-5 degrees: VGGT clamps 1 - dot^2 at 1e-15, which
// floors both errors at about 3.6e-6 degrees; here the angles come from atan2 and are exact, so a
// perfect prediction scores 0.
//
// Zero baseline (frames i and j at the same camera centre): the relative translation has no
// direction. VGGT normalises with an added 1e-15, which turns a zero vector into (0, 0, 0) and
// gives a 90 degree translation error; this is kept so numbers match VGGT's, and such pairs are
// flagged in PairErrors::zero_baseline (GT baseline <= 1e-9 (|t_i| + |t_j|), i.e. zero up to
// rounding). A predicted zero baseline against a non-zero GT one also scores 90 degrees.
//
// Pooling: VGGT concatenates the pair errors of all sequences of a category before computing AUC;
// do the same with concatenate_pair_errors rather than averaging per-clip AUCs.
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

namespace vidprobe::metrics {

struct PairErrors {
  torch::Tensor rotation_deg;     // (P) float64, one entry per frame pair i < j
  torch::Tensor translation_deg;  // (P) float64, in [0, 90]
  torch::Tensor zero_baseline;    // (P) bool: GT cameras i and j coincide (translation error 90)
};

// extrinsics (S, 3, 4) camera-from-world, S >= 2. Throws vidprobe::Error on non-finite input
// (naming pred_extrinsics or gt_extrinsics) or mismatched shapes. Computed in float64.
PairErrors relative_pose_errors(const torch::Tensor& pred_extrinsics,
                                const torch::Tensor& gt_extrinsics);

// Pairs of several clips in one list (moved to the first clip's device).
PairErrors concatenate_pair_errors(const std::vector<PairErrors>& clips);

double pose_auc(const PairErrors& errors, int max_threshold_deg);
double rotation_accuracy(const PairErrors& errors, double threshold_deg);     // RRA
double translation_accuracy(const PairErrors& errors, double threshold_deg);  // RTA

// All of the above for one clip: keys auc5, auc15, auc30, rra5, rra15, rra30, rta5, rta15, rta30,
// rot_err_mean, trans_err_mean (degrees), pairs (count) and zero_baseline_pairs (count).
std::map<std::string, double> camera_metrics(const torch::Tensor& pred_extrinsics,
                                             const torch::Tensor& gt_extrinsics);

}  // namespace vidprobe::metrics
