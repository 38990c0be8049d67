#pragma once
// Depth metrics after alignment (the probe predicts depth up to scale):
//   AbsRel = mean over valid pixels of |d_aligned - d_gt| / d_gt
//   delta1 = fraction of valid pixels with max(d_aligned / d_gt, d_gt / d_aligned) < 1.25
// Alignment: median scaling (per frame, or one factor per clip) or least-squares scale-and-shift.
#include <torch/types.h>

#include <map>
#include <string>

namespace vidprobe::metrics {

enum class DepthAlignment { kMedianPerFrame, kMedianPerClip, kScaleShiftPerFrame };

struct DepthScores {
  double abs_rel = 0;
  double delta1 = 0;
  std::int64_t valid_pixels = 0;  // 0 -> the clip is excluded from averages (no valid GT)
};

// pred, gt (S, H, W); valid (S, H, W) bool (gt > 0 is also required). Non-finite predictions at
// valid pixels throw vidprobe::Error; non-finite GT pixels are treated as invalid (documented).
DepthScores depth_metrics(const torch::Tensor& pred, const torch::Tensor& gt,
                          const torch::Tensor& valid, DepthAlignment alignment);

}  // namespace vidprobe::metrics
