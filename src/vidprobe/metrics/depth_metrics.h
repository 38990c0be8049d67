#pragma once
// Depth metrics after alignment (the probe predicts depth up to scale):
//   AbsRel = mean over valid pixels of |d_aligned - d_gt| / d_gt
//   delta1 = fraction of valid pixels with d_aligned > 0 and
//            max(d_aligned / d_gt, d_gt / d_aligned) < 1.25
// Both are pooled over all valid pixels of the clip (not a mean of per-frame means).
// Alignment: median scaling (per frame, or one factor per clip) or least-squares scale-and-shift
// per frame (see vidprobe/geometry/alignment.h for the conventions: numpy-style median, flat
// prediction -> scale 0 and shift mean(gt)). Computed in float64 on the inputs' device.
#include <torch/types.h>

#include <cstdint>
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
// A clip without any valid pixel scores {0, 0, valid_pixels = 0} (not NaN): callers must skip it.
// Frames without valid pixels do not contribute (their alignment is never computed). A median
// alignment whose predicted median is not positive throws vidprobe::Error.
DepthScores depth_metrics(const torch::Tensor& pred, const torch::Tensor& gt,
                          const torch::Tensor& valid, DepthAlignment alignment);

}  // namespace vidprobe::metrics
