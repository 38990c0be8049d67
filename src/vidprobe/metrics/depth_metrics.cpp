#include "vidprobe/metrics/depth_metrics.h"

#include <torch/torch.h>

#include "vidprobe/core/error.h"
#include "vidprobe/geometry/alignment.h"
#include "vidprobe/geometry/tensor_checks.h"

namespace vidprobe::metrics {

DepthScores depth_metrics(const torch::Tensor& pred, const torch::Tensor& gt,
                          const torch::Tensor& valid, DepthAlignment alignment) {
  require(pred.defined() && pred.is_floating_point() && pred.dim() >= 1,
          "depth_metrics: pred must be a floating-point (S, H, W) tensor, got " +
              geometry::shape_string(pred));
  require(gt.defined() && gt.is_floating_point() && gt.sizes() == pred.sizes(),
          "depth_metrics: gt must be a floating-point tensor shaped like pred " +
              geometry::shape_string(pred) + ", got " + geometry::shape_string(gt));
  require(valid.defined() && valid.scalar_type() == torch::kBool && valid.sizes() == pred.sizes(),
          "depth_metrics: valid must be a bool tensor shaped like pred " +
              geometry::shape_string(pred) + ", got " + geometry::shape_string(valid));
  const auto device = pred.device();
  const auto frames = pred.size(0);
  const auto gt_rows = gt.to(device).to(torch::kDouble).reshape({frames, -1});
  const auto mask =
      valid.to(device).reshape({frames, -1}) & torch::isfinite(gt_rows) & gt_rows.gt(0);
  geometry::require_finite(pred.reshape({frames, -1}), mask, "depth_metrics: pred");

  DepthScores scores;
  scores.valid_pixels = mask.sum().item<int64_t>();
  if (scores.valid_pixels == 0) return scores;

  // Only frames with valid pixels take part (a per-frame alignment is undefined on the others).
  const auto used = mask.any(-1).nonzero().squeeze(-1);
  const auto m = mask.index_select(0, used);
  const auto zero = torch::zeros({}, gt_rows.options());
  const auto p =
      torch::where(m, pred.reshape({frames, -1}).index_select(0, used).to(torch::kDouble), zero);
  const auto g = torch::where(m, gt_rows.index_select(0, used), zero);

  torch::Tensor aligned;
  switch (alignment) {
    case DepthAlignment::kMedianPerClip:
      aligned = p * geometry::median_scale(p, g, m, /*batch_dims=*/0);
      break;
    case DepthAlignment::kMedianPerFrame:
      aligned = p * geometry::median_scale(p, g, m, /*batch_dims=*/1).unsqueeze(-1);
      break;
    case DepthAlignment::kScaleShiftPerFrame: {
      const auto scale_shift = geometry::least_squares_scale_shift(p, g, m, /*batch_dims=*/1);
      aligned = p * scale_shift.narrow(-1, 0, 1) + scale_shift.narrow(-1, 1, 1);
      break;
    }
  }
  const auto safe_gt = torch::where(m, g, torch::ones({}, g.options()));
  const auto count = static_cast<double>(scores.valid_pixels);
  const auto relative_error = torch::where(m, (aligned - g).abs() / safe_gt, zero);
  scores.abs_rel = relative_error.sum().item<double>() / count;
  // A non-positive aligned depth is a miss (its ratios would be negative and pass the test).
  const auto safe_aligned = torch::where(aligned.gt(0), aligned, torch::ones({}, g.options()));
  const auto ratio = torch::maximum(safe_aligned / safe_gt, safe_gt / safe_aligned);
  const auto hit = m & aligned.gt(0) & ratio.lt(1.25);
  scores.delta1 = static_cast<double>(hit.sum().item<int64_t>()) / count;
  return scores;
}

}  // namespace vidprobe::metrics
