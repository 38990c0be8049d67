#pragma once
// Least-squares alignments used by the metrics and by GT normalisation. All of them compute in
// float64 internally (on the inputs' device) and validate their inputs: bad input throws
// vidprobe::Error naming the argument (src, dst, weights, pred, gt, mask).
#include <torch/types.h>

#include <cstdint>
#include <optional>

namespace vidprobe::geometry {

// x -> scale * R x + t. Fields are float64; with batched inputs they carry the batch dims.
struct Similarity {
  torch::Tensor rotation;     // (..., 3, 3)
  torch::Tensor translation;  // (..., 3)
  torch::Tensor scale;        // (...) scalar per batch element
  // points (..., N, 3) (the similarity's batch dims broadcast against the dims before N) or, for
  // an unbatched similarity, any (..., 3). Computed in float64, returned in the points' dtype.
  torch::Tensor apply(const torch::Tensor& points) const;
};

// Umeyama (1991): the Sim(3) (or SE(3) when with_scale is false) minimising
// sum_i w_i || dst_i - (s R src_i + t) ||^2 over points (..., N, 3); weights (..., N) optional
// (a 0/1 mask works; weights must be >= 0). A reflection is never returned: when the best
// orthogonal matrix has det -1 the smallest singular direction is flipped (Umeyama's S matrix).
// Throws vidprobe::Error for fewer than 3 points with positive weight, for src or dst whose
// weighted points are all identical (zero spread: rotation and scale undefined), for non-finite
// src/dst/weights, negative weights, or mismatched shapes.
Similarity umeyama_alignment(const torch::Tensor& src, const torch::Tensor& dst,
                             const std::optional<torch::Tensor>& weights = std::nullopt,
                             bool with_scale = true);

// The three scalar alignments below take pred, gt and a bool mask of the same shape. The first
// batch_dims dimensions are kept as a batch (one result per batch element); the rest are reduced.
// With batch_dims = 0 the result is one value over the whole tensor. Non-finite pred or gt where
// the mask is true, or a batch element with no masked entry, throws vidprobe::Error.

// Scale s minimising || s * pred - gt ||^2 over mask. Returns a float64 tensor of the batch shape
// (0-dim for batch_dims = 0). Throws if pred is zero at every masked entry of a batch element.
torch::Tensor least_squares_scale(const torch::Tensor& pred, const torch::Tensor& gt,
                                  const torch::Tensor& mask, std::int64_t batch_dims = 0);
// (scale, shift) minimising || s * pred + b - gt ||^2 over mask. Returns (batch..., 2) = [s, b].
// When pred is constant over the mask (one entry, or a flat prediction) the minimiser is not
// unique; the one with s = 0, b = mean(gt) is returned (no error).
torch::Tensor least_squares_scale_shift(const torch::Tensor& pred, const torch::Tensor& gt,
                                        const torch::Tensor& mask, std::int64_t batch_dims = 0);
// median(gt) / median(pred) over mask: the standard monocular-depth alignment. The median of an
// even count is the mean of the two middle values (numpy's convention). Throws if the median of
// pred is not positive.
torch::Tensor median_scale(const torch::Tensor& pred, const torch::Tensor& gt,
                           const torch::Tensor& mask, std::int64_t batch_dims = 0);

// Median over the masked entries of each row of values (B, N) with mask (B, N) bool, every row
// having at least one masked entry; the even-count median is the mean of the two middle values.
torch::Tensor masked_median(const torch::Tensor& values, const torch::Tensor& mask);

}  // namespace vidprobe::geometry
