#pragma once
// Least-squares alignments used by the metrics and by GT normalisation.
#include <torch/types.h>

#include <optional>

namespace vidprobe::geometry {

// x -> scale * R x + t.
struct Similarity {
  torch::Tensor rotation;     // (3, 3)
  torch::Tensor translation;  // (3)
  torch::Tensor scale;        // () scalar
  torch::Tensor apply(const torch::Tensor& points) const;  // (..., 3)
};

// Umeyama (1991): the Sim(3) (or SE(3) when with_scale is false) minimising
// sum_i w_i || dst_i - (s R src_i + t) ||^2 over points (N, 3); weights (N) optional (a 0/1 mask
// works). Throws vidprobe::Error for fewer than 3 points with positive weight or non-finite input.
Similarity umeyama_alignment(const torch::Tensor& src, const torch::Tensor& dst,
                             const std::optional<torch::Tensor>& weights = std::nullopt,
                             bool with_scale = true);

// Scale s minimising || s * pred - gt ||^2 over mask (same shapes, any). Returns a 0-dim tensor.
torch::Tensor least_squares_scale(const torch::Tensor& pred, const torch::Tensor& gt,
                                  const torch::Tensor& mask);
// (scale, shift) minimising || s * pred + b - gt ||^2 over mask. Returns a (2) tensor [s, b].
torch::Tensor least_squares_scale_shift(const torch::Tensor& pred, const torch::Tensor& gt,
                                        const torch::Tensor& mask);
// median(gt) / median(pred) over mask: the standard monocular-depth alignment.
torch::Tensor median_scale(const torch::Tensor& pred, const torch::Tensor& gt, const torch::Tensor& mask);

}  // namespace vidprobe::geometry
