#include "vidprobe/metrics/camera_metrics.h"

#include <torch/torch.h>

#include <numbers>

#include "vidprobe/core/error.h"
#include "vidprobe/geometry/camera.h"
#include "vidprobe/geometry/tensor_checks.h"

namespace vidprobe::metrics {
namespace {

constexpr double kDegreesPerRadian = 180.0 / std::numbers::pi;

void require_errors(const PairErrors& errors, const std::string& function) {
  require(errors.rotation_deg.defined() && errors.translation_deg.defined() &&
              errors.rotation_deg.numel() > 0 &&
              errors.rotation_deg.sizes() == errors.translation_deg.sizes(),
          function + ": needs a non-empty PairErrors with as many rotation as translation errors");
}

double fraction_below(const torch::Tensor& errors, double threshold) {
  return errors.lt(threshold).to(torch::kDouble).mean().item<double>();
}

}  // namespace

PairErrors relative_pose_errors(const torch::Tensor& pred_extrinsics,
                                const torch::Tensor& gt_extrinsics) {
  geometry::require_float_with_tail(pred_extrinsics, {3, 4}, "pred_extrinsics");
  geometry::require_float_with_tail(gt_extrinsics, {3, 4}, "gt_extrinsics");
  require(pred_extrinsics.dim() == 3 && pred_extrinsics.size(0) >= 2,
          "pred_extrinsics must have shape (S, 3, 4) with S >= 2, got " +
              geometry::shape_string(pred_extrinsics));
  require(pred_extrinsics.sizes() == gt_extrinsics.sizes(),
          "pred_extrinsics " + geometry::shape_string(pred_extrinsics) + " and gt_extrinsics " +
              geometry::shape_string(gt_extrinsics) + " differ in shape");
  geometry::require_finite(pred_extrinsics, "pred_extrinsics");
  geometry::require_finite(gt_extrinsics, "gt_extrinsics");

  const auto pred = pred_extrinsics.to(torch::kDouble);
  const auto gt = gt_extrinsics.to(pred.device()).to(torch::kDouble);
  const auto frames = pred.size(0);
  const auto pairs =
      torch::triu_indices(frames, frames, 1, torch::dtype(torch::kLong).device(pred.device()));
  const auto first = pairs.select(0, 0), second = pairs.select(0, 1);
  const auto relative = [&](const torch::Tensor& extrinsics) {
    return geometry::compose_extrinsics(
        extrinsics.index_select(0, first),
        geometry::invert_extrinsics(extrinsics.index_select(0, second)));
  };
  const auto relative_pred = relative(pred), relative_gt = relative(gt);

  PairErrors errors;
  // Angle of the rotation taking one relative rotation to the other, from its quaternion: atan2
  // stays accurate at 0 and 180 degrees where acos of the trace does not.
  const auto difference =
      torch::matmul(relative_pred.narrow(-1, 0, 3).transpose(-1, -2), relative_gt.narrow(-1, 0, 3));
  const auto quaternion = geometry::rotation_to_quaternion(difference);
  errors.rotation_deg =
      2 * torch::atan2(quaternion.narrow(-1, 0, 3).norm(2, -1), quaternion.select(-1, 3).abs()) *
      kDegreesPerRadian;

  const auto translation_pred = relative_pred.select(-1, 3);
  const auto translation_gt = relative_gt.select(-1, 3);
  // atan2(|a x b|, |a . b|) is the angle between the lines, already folded into [0, 90].
  const auto angle = torch::atan2(torch::linalg_cross(translation_pred, translation_gt).norm(2, -1),
                                  (translation_pred * translation_gt).sum(-1).abs()) *
                     kDegreesPerRadian;
  const auto is_zero = [&](const torch::Tensor& extrinsics, const torch::Tensor& translation) {
    const auto norms = extrinsics.select(-1, 3).norm(2, -1);
    const auto rounding_scale = norms.index_select(0, first) + norms.index_select(0, second);
    return translation.norm(2, -1).le(1e-9 * rounding_scale);
  };
  errors.zero_baseline = is_zero(gt, translation_gt);
  errors.translation_deg = torch::where(errors.zero_baseline | is_zero(pred, translation_pred),
                                        torch::full({}, 90.0, angle.options()), angle);
  return errors;
}

PairErrors concatenate_pair_errors(const std::vector<PairErrors>& clips) {
  require(!clips.empty(), "concatenate_pair_errors: no clips given");
  const auto device = clips.front().rotation_deg.device();
  std::vector<torch::Tensor> rotation, translation, zero_baseline;
  for (const auto& clip : clips) {
    require_errors(clip, "concatenate_pair_errors");
    rotation.push_back(clip.rotation_deg.to(device));
    translation.push_back(clip.translation_deg.to(device));
    zero_baseline.push_back(clip.zero_baseline.defined()
                                ? clip.zero_baseline.to(device)
                                : torch::zeros_like(clip.rotation_deg.to(device), torch::kBool));
  }
  return {torch::cat(rotation), torch::cat(translation), torch::cat(zero_baseline)};
}

double pose_auc(const PairErrors& errors, int max_threshold_deg) {
  require_errors(errors, "pose_auc");
  require(max_threshold_deg >= 1,
          "pose_auc: max_threshold_deg must be >= 1, got " + std::to_string(max_threshold_deg));
  const auto worst = torch::maximum(errors.rotation_deg, errors.translation_deg).to(torch::kDouble);
  const auto thresholds = torch::arange(1, max_threshold_deg + 1, worst.options());
  auto below = worst.unsqueeze(-1).lt(thresholds);
  // numpy's last histogram bin is closed: an error of exactly k still counts for AUC@k.
  below.select(-1, max_threshold_deg - 1).logical_or_(worst.le(max_threshold_deg));
  return below.to(torch::kDouble).mean().item<double>();
}

double rotation_accuracy(const PairErrors& errors, double threshold_deg) {
  require_errors(errors, "rotation_accuracy");
  return fraction_below(errors.rotation_deg, threshold_deg);
}

double translation_accuracy(const PairErrors& errors, double threshold_deg) {
  require_errors(errors, "translation_accuracy");
  return fraction_below(errors.translation_deg, threshold_deg);
}

std::map<std::string, double> camera_metrics(const torch::Tensor& pred_extrinsics,
                                             const torch::Tensor& gt_extrinsics) {
  const auto errors = relative_pose_errors(pred_extrinsics, gt_extrinsics);
  std::map<std::string, double> scores;
  for (const int threshold : {5, 15, 30}) {
    const auto suffix = std::to_string(threshold);
    scores["auc" + suffix] = pose_auc(errors, threshold);
    scores["rra" + suffix] = rotation_accuracy(errors, threshold);
    scores["rta" + suffix] = translation_accuracy(errors, threshold);
  }
  scores["rot_err_mean"] = errors.rotation_deg.mean().item<double>();
  scores["trans_err_mean"] = errors.translation_deg.mean().item<double>();
  scores["pairs"] = static_cast<double>(errors.rotation_deg.numel());
  scores["zero_baseline_pairs"] = static_cast<double>(errors.zero_baseline.sum().item<int64_t>());
  return scores;
}

}  // namespace vidprobe::metrics
