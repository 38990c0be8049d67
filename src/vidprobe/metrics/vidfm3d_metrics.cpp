#include "vidprobe/metrics/vidfm3d_metrics.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "vidprobe/core/error.h"
#include "vidprobe/geometry/alignment.h"
#include "vidprobe/geometry/camera.h"
#include "vidprobe/geometry/tensor_checks.h"

namespace vidprobe::metrics {
namespace {

constexpr double kDegreesPerRadian = 180.0 / std::numbers::pi;
constexpr int kHistogramBins = 31;  // torch.histc(bins=max_threshold + 1, min=0, max=30)
constexpr double kHistogramMax = 30;

// (..., 4, 4) from (..., 3, 4).
torch::Tensor homogeneous(const torch::Tensor& e) {
  auto out = torch::zeros({e.size(0), 4, 4}, e.options());
  out.narrow(1, 0, 3).copy_(e);
  out.select(1, 3).select(1, 3).fill_(1);
  return out;
}

// (P, 4, 4) relative poses inv(E_i) E_j in float32, with the same operations as the authors'
// closed_form_inverse_se3 + bmm (so the float rounding agrees): inv = [R^T | -R^T t] in 4 x 4.
torch::Tensor relative_poses(const torch::Tensor& extrinsics, const torch::Tensor& first,
                             const torch::Tensor& second) {
  const auto e = homogeneous(extrinsics.to(torch::kFloat32));
  const auto ei = e.index_select(0, first), ej = e.index_select(0, second);
  const auto rotation_t = ei.narrow(1, 0, 3).narrow(2, 0, 3).transpose(1, 2);
  auto inverse = torch::eye(4, e.options()).repeat({ei.size(0), 1, 1});
  inverse.narrow(1, 0, 3).narrow(2, 0, 3).copy_(rotation_t);
  inverse.narrow(1, 0, 3).narrow(2, 3, 1).copy_(
      -torch::bmm(rotation_t, ei.narrow(1, 0, 3).narrow(2, 3, 1)));
  return torch::bmm(inverse, ej);
}

// Quaternions (x, y, z, w) of (P, 3, 3) rotations as PyTorch3D's matrix_to_quaternion computes
// them (VGGT's mat_to_quat, which the authors' metric calls): the four candidates from the
// diagonal, divided by 2 max(|q_k|, 0.1), the best-conditioned one kept, no renormalisation.
torch::Tensor authors_quaternion(const torch::Tensor& r) {
  const auto m = r.reshape({r.size(0), 9});
  const auto at = [&](int row, int col) { return m.select(-1, 3 * row + col); };
  const auto m00 = at(0, 0), m01 = at(0, 1), m02 = at(0, 2);
  const auto m10 = at(1, 0), m11 = at(1, 1), m12 = at(1, 2);
  const auto m20 = at(2, 0), m21 = at(2, 1), m22 = at(2, 2);
  const auto squared = torch::stack(
      {1.0 + m00 + m11 + m22, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22},
      -1);
  const auto q_abs = torch::where(squared > 0, torch::sqrt(squared), torch::zeros_like(squared));
  const auto sq = [&](int k) { return q_abs.select(-1, k).pow(2); };
  const auto candidates = torch::stack({torch::stack({sq(0), m21 - m12, m02 - m20, m10 - m01}, -1),
                                        torch::stack({m21 - m12, sq(1), m10 + m01, m02 + m20}, -1),
                                        torch::stack({m02 - m20, m10 + m01, sq(2), m12 + m21}, -1),
                                        torch::stack({m10 - m01, m20 + m02, m21 + m12, sq(3)}, -1)},
                                       -2);
  const auto scaled = candidates / (2.0 * q_abs.unsqueeze(-1).clamp_min(0.1));
  const auto best = q_abs.argmax(-1).view({-1, 1, 1}).expand({-1, 1, 4});
  const auto rijk = scaled.gather(-2, best).squeeze(-2);
  return rijk.index_select(-1, torch::tensor({1, 2, 3, 0}, torch::kLong));
}

torch::Tensor unit(const torch::Tensor& t) {
  return t / (t.norm(2, -1, true) + 1e-15);
}

}  // namespace

Vidfm3dPairErrors vidfm3d_pair_errors(const torch::Tensor& pred_extrinsics,
                                      const torch::Tensor& gt_extrinsics) {
  geometry::require_float_with_tail(pred_extrinsics, {3, 4}, "pred_extrinsics");
  require(
      pred_extrinsics.dim() == 3 && pred_extrinsics.size(0) >= 2 &&
          pred_extrinsics.sizes() == gt_extrinsics.sizes(),
      "vidfm3d camera metrics: extrinsics must be (S, 3, 4) with S >= 2 and equal shapes, got " +
          geometry::shape_string(pred_extrinsics) + " and " +
          geometry::shape_string(gt_extrinsics));
  const auto frames = pred_extrinsics.size(0);
  const auto pairs = torch::triu_indices(frames, frames, 1, torch::kLong);
  const auto first = pairs.select(0, 0), second = pairs.select(0, 1);
  const auto pred = relative_poses(pred_extrinsics.cpu(), first, second);
  const auto gt = relative_poses(gt_extrinsics.cpu(), first, second);

  const auto q_pred = authors_quaternion(pred.narrow(1, 0, 3).narrow(2, 0, 3));
  const auto q_gt = authors_quaternion(gt.narrow(1, 0, 3).narrow(2, 0, 3));
  const auto rotation_loss = (1 - (q_pred * q_gt).sum(-1).pow(2)).clamp_min(1e-15);
  Vidfm3dPairErrors errors;
  errors.rotation_deg = torch::acos(1 - 2 * rotation_loss) * kDegreesPerRadian;

  const auto dot =
      (unit(pred.narrow(1, 0, 3).select(2, 3)) * unit(gt.narrow(1, 0, 3).select(2, 3))).sum(-1);
  const auto translation_loss = (1 - dot.pow(2)).clamp_min(1e-15);
  auto angle = torch::acos(torch::sqrt(1 - translation_loss));
  angle = torch::where(torch::isfinite(angle), angle, torch::full({}, 1e6, angle.options()));
  angle = angle * kDegreesPerRadian;
  errors.translation_deg = torch::minimum(angle, (180 - angle).abs());
  return errors;
}

torch::Tensor vidfm3d_decode_extrinsics(const torch::Tensor& pose_encoding) {
  const auto e = pose_encoding.to(torch::kFloat32).cpu();
  const auto q = e.narrow(-1, 3, 4);
  const auto i = q.select(-1, 0), j = q.select(-1, 1), k = q.select(-1, 2), r = q.select(-1, 3);
  const auto two_s = 2.0 / (q * q).sum(-1);
  auto rotation =
      torch::stack({1 - two_s * (j * j + k * k), two_s * (i * j - k * r), two_s * (i * k + j * r),
                    two_s * (i * j + k * r), 1 - two_s * (i * i + k * k), two_s * (j * k - i * r),
                    two_s * (i * k - j * r), two_s * (j * k + i * r), 1 - two_s * (i * i + j * j)},
                   -1);
  auto shape = q.sizes().vec();
  shape.back() = 3;
  shape.push_back(3);
  return torch::cat({rotation.reshape(shape), e.narrow(-1, 0, 3).unsqueeze(-1)}, -1);
}

Vidfm3dPairErrors concatenate(const std::vector<Vidfm3dPairErrors>& clips) {
  require(!clips.empty(), "vidfm3d camera metrics: no clips");
  std::vector<torch::Tensor> rotation, translation;
  for (const auto& clip : clips) {
    rotation.push_back(clip.rotation_deg);
    translation.push_back(clip.translation_deg);
  }
  return {torch::cat(rotation), torch::cat(translation)};
}

double vidfm3d_auc(const Vidfm3dPairErrors& errors, int k) {
  require(k >= 1 && k <= kHistogramBins, "vidfm3d AUC: threshold must be in 1..31");
  const auto worst = torch::maximum(errors.rotation_deg, errors.translation_deg);
  const auto pairs = static_cast<double>(worst.numel());
  require(pairs > 0, "vidfm3d AUC: no pairs");
  const auto inside = worst.ge(0) & worst.le(kHistogramMax);
  // torch.histc's bin of x: int((x - min) * bins / (max - min)) in float32, the top edge in the
  // last bin; values outside [0, 30] are not counted (but still in the pair count).
  auto bins = (worst.index({inside}) * static_cast<float>(kHistogramBins) /
               static_cast<float>(kHistogramMax))
                  .to(torch::kLong)
                  .clamp_max(kHistogramBins - 1);
  const auto histogram = torch::bincount(bins, {}, kHistogramBins).to(torch::kDouble) / pairs;
  return torch::cumsum(histogram.slice(0, 0, k), 0).mean().item<double>();
}

std::map<std::string, double> vidfm3d_camera_metrics(const Vidfm3dPairErrors& errors) {
  std::map<std::string, double> out;
  for (int k : {30, 10, 5, 3}) out["Auc_" + std::to_string(k)] = vidfm3d_auc(errors, k);
  for (int k : {5, 15}) {
    out["Rac_" + std::to_string(k)] =
        errors.rotation_deg.lt(k).to(torch::kDouble).mean().item<double>();
    out["Tac_" + std::to_string(k)] =
        errors.translation_deg.lt(k).to(torch::kDouble).mean().item<double>();
  }
  return out;
}

torch::Tensor vidfm3d_confidence_mask(const torch::Tensor& confidence, double quantile) {
  const auto values = std::get<0>(confidence.to(torch::kFloat32).cpu().flatten().sort());
  require(values.numel() > 0, "vidfm3d point metric: empty confidence map");
  // numpy's "linear" percentile: interpolate at quantile * (n - 1), computed from the far end
  // when the fraction is >= 0.5 (numpy's _lerp).
  const double position = quantile * static_cast<double>(values.numel() - 1);
  const auto below = static_cast<int64_t>(std::floor(position));
  const auto above = std::min<int64_t>(below + 1, values.numel() - 1);
  const double fraction = position - static_cast<double>(below);
  const double a = values[below].item<double>(), b = values[above].item<double>();
  const double threshold = fraction >= 0.5 ? b - (b - a) * (1 - fraction) : a + (b - a) * fraction;
  return confidence.to(torch::kFloat32).ge(static_cast<float>(threshold));
}

double vidfm3d_point_error(const torch::Tensor& pred, const torch::Tensor& gt,
                           const torch::Tensor& confidence) {
  const auto p = pred.to(torch::kFloat32).cpu().reshape({-1, 3});
  const auto g = gt.to(torch::kFloat32).cpu().reshape({-1, 3});
  const auto c = confidence.to(torch::kFloat32).cpu().reshape({-1});
  require(p.sizes() == g.sizes() && p.size(0) == c.size(0),
          "vidfm3d point metric: pred, gt and confidence must cover the same pixels");
  const auto mask = vidfm3d_confidence_mask(c);
  auto aligned = p;
  if (mask.sum().item<int64_t>() >= 3) {
    try {
      aligned = geometry::umeyama_alignment(p.index({mask}), g.index({mask})).apply(p);
    } catch (const Error&) {
      // Degenerate points (all identical): the prediction is scored unaligned.
    }
  }
  const auto distance = (aligned.to(torch::kFloat32) - g).norm(2, -1);
  return ((distance * c).sum() / (c.sum() + 1e-6)).item<double>();
}

double vidfm3d_depth_error(const torch::Tensor& pred, const torch::Tensor& gt,
                           const torch::Tensor& confidence, const torch::Tensor& valid) {
  const auto v = valid.to(torch::kBool).cpu();
  if (v.sum().item<int64_t>() == 0) return 0;
  const auto weighted = (confidence.to(torch::kFloat32).cpu() *
                         (pred.to(torch::kFloat32).cpu() - gt.to(torch::kFloat32).cpu()).abs())
                            .index({v});
  return weighted.nan_to_num(0, 0, 0).clamp(-100, 100).mean().item<double>();
}

}  // namespace vidprobe::metrics
