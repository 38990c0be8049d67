#include "vidprobe/geometry/alignment.h"

#include <torch/torch.h>

#include <string>

#include "vidprobe/core/error.h"
#include "vidprobe/geometry/tensor_checks.h"

namespace vidprobe::geometry {
namespace {

// Index of the first true entry of a flattened bool tensor, for error messages.
std::string first_true_index(const torch::Tensor& flags) {
  return std::to_string(flags.flatten().to(torch::kInt).argmax().item<int64_t>());
}

// pred, gt, mask checked and flattened to (B, M) float64 / bool rows, with pred and gt zeroed
// outside the mask (so a NaN there cannot leak into sums).
struct MaskedRows {
  torch::Tensor pred, gt, mask;
  std::vector<int64_t> batch_shape;
};

MaskedRows masked_rows(const torch::Tensor& pred, const torch::Tensor& gt,
                       const torch::Tensor& mask, std::int64_t batch_dims,
                       const std::string& function) {
  require(pred.defined() && gt.defined() && mask.defined(), function + ": undefined input");
  require(pred.sizes() == gt.sizes(), function + ": pred " + shape_string(pred) + " and gt " +
                                          shape_string(gt) + " differ in shape");
  require(mask.sizes() == pred.sizes(), function + ": mask " + shape_string(mask) + " and pred " +
                                            shape_string(pred) + " differ in shape");
  require(mask.scalar_type() == torch::kBool, function + ": mask must be a bool tensor");
  require(batch_dims >= 0 && batch_dims <= pred.dim(),
          function + ": batch_dims " + std::to_string(batch_dims) + " out of range for pred " +
              shape_string(pred));
  require_finite(pred, mask, function + ": pred");
  require_finite(gt, mask, function + ": gt");
  MaskedRows rows;
  rows.batch_shape = pred.sizes().slice(0, batch_dims).vec();
  rows.mask = mask.reshape({c10::multiply_integers(rows.batch_shape), -1});
  const auto zero = torch::zeros({}, pred.options().dtype(torch::kDouble));
  rows.pred = torch::where(rows.mask, pred.reshape(rows.mask.sizes()).to(torch::kDouble), zero);
  rows.gt = torch::where(rows.mask, gt.reshape(rows.mask.sizes()).to(torch::kDouble), zero);
  const auto empty = rows.mask.sum(-1).eq(0);
  require(!empty.any().item<bool>(),
          function + ": the mask selects no entry in batch element " + first_true_index(empty));
  return rows;
}

}  // namespace

torch::Tensor Similarity::apply(const torch::Tensor& points) const {
  require_float_with_tail(points, {3}, "points");
  const auto p = points.to(torch::kDouble);
  const auto scale_b = scale.unsqueeze(-1).unsqueeze(-1);
  const auto translation_b = translation.unsqueeze(-2);
  const auto moved = scale_b * torch::matmul(p, rotation.transpose(-1, -2)) + translation_b;
  return moved.to(points.scalar_type());
}

Similarity umeyama_alignment(const torch::Tensor& src, const torch::Tensor& dst,
                             const std::optional<torch::Tensor>& weights, bool with_scale) {
  require_float_with_tail(src, {3}, "umeyama_alignment: src");
  require_float_with_tail(dst, {3}, "umeyama_alignment: dst");
  require(src.dim() >= 2,
          "umeyama_alignment: src must have shape (..., N, 3), got " + shape_string(src));
  require(src.sizes() == dst.sizes(), "umeyama_alignment: src " + shape_string(src) + " and dst " +
                                          shape_string(dst) + " differ in shape");
  require_finite(src, "umeyama_alignment: src");
  require_finite(dst, "umeyama_alignment: dst");
  const auto source = src.to(torch::kDouble);
  const auto target = dst.to(torch::kDouble).to(source.device());
  torch::Tensor w;
  if (weights) {
    require(weights->defined() && weights->sizes() == src.sizes().slice(0, src.dim() - 1),
            "umeyama_alignment: weights must have shape " + shape_string(src.select(-1, 0)) +
                ", got " + shape_string(*weights));
    w = weights->to(source.device()).to(torch::kDouble);
    require_finite(w, "umeyama_alignment: weights");
    require(!w.lt(0).any().item<bool>(), "umeyama_alignment: weights must be >= 0");
  } else {
    w = torch::ones(src.sizes().slice(0, src.dim() - 1), source.options());
  }
  const auto positive = w.gt(0).sum(-1);
  const auto fewest = positive.numel() == 0 ? 0 : positive.min().item<int64_t>();
  require(fewest >= 3, "umeyama_alignment: needs at least 3 points with positive weight, got " +
                           std::to_string(fewest));

  const auto normalised_w = (w / w.sum(-1, /*keepdim=*/true)).unsqueeze(-1);  // (..., N, 1)
  const auto mean_src = (normalised_w * source).sum(-2);
  const auto mean_dst = (normalised_w * target).sum(-2);
  // Centred points, zeroed where the weight is 0 so that far outliers cannot lose precision.
  const auto centred_src = (source - mean_src.unsqueeze(-2)) * normalised_w.gt(0);
  const auto centred_dst = (target - mean_dst.unsqueeze(-2)) * normalised_w.gt(0);
  const auto variance_src = (normalised_w * centred_src.square()).sum({-2, -1});
  const auto variance_dst = (normalised_w * centred_dst.square()).sum({-2, -1});
  // "All points identical" relative to the coordinates' magnitude (rounding leaves ~1e-32 |x|^2).
  const auto degenerate = [](const torch::Tensor& variance, const torch::Tensor& mean) {
    return variance.le(1e-24 * mean.square().sum(-1));
  };
  const auto src_degenerate = degenerate(variance_src, mean_src);
  require(!src_degenerate.any().item<bool>(),
          "umeyama_alignment: src points (with positive weight) are all identical in batch "
          "element " +
              first_true_index(src_degenerate));
  const auto dst_degenerate = degenerate(variance_dst, mean_dst);
  require(!dst_degenerate.any().item<bool>(),
          "umeyama_alignment: dst points (with positive weight) are all identical in batch "
          "element " +
              first_true_index(dst_degenerate));

  const auto covariance =
      torch::matmul((normalised_w * centred_dst).transpose(-1, -2), centred_src);
  // The 3 x 3 decompositions run on the CPU: on a GPU each would be a solver launch costing far
  // more than the arithmetic (the checks above have synchronised already).
  const auto [u, singular_values, vh] = torch::linalg_svd(covariance.cpu());
  // Flip the weakest direction when U V^T would be a reflection.
  const auto reflection_sign =
      torch::where((torch::linalg_det(u) * torch::linalg_det(vh)).lt(0), -1.0, 1.0);
  auto signs = torch::ones_like(singular_values);
  signs.select(-1, 2).copy_(reflection_sign);
  const auto device = source.device();
  Similarity result;
  result.rotation = torch::matmul(u * signs.unsqueeze(-2), vh).to(device);
  result.scale = with_scale ? (singular_values * signs).sum(-1).to(device) / variance_src
                            : torch::ones_like(variance_src);
  result.translation =
      mean_dst - result.scale.unsqueeze(-1) *
                     torch::matmul(result.rotation, mean_src.unsqueeze(-1)).squeeze(-1);
  return result;
}

torch::Tensor least_squares_scale(const torch::Tensor& pred, const torch::Tensor& gt,
                                  const torch::Tensor& mask, std::int64_t batch_dims) {
  const auto rows = masked_rows(pred, gt, mask, batch_dims, "least_squares_scale");
  const auto numerator = (rows.pred * rows.gt).sum(-1);
  const auto denominator = rows.pred.square().sum(-1);
  const auto zero_pred = denominator.eq(0);
  require(!zero_pred.any().item<bool>(),
          "least_squares_scale: pred is zero at every masked entry of batch element " +
              first_true_index(zero_pred));
  return (numerator / denominator).reshape(rows.batch_shape);
}

torch::Tensor least_squares_scale_shift(const torch::Tensor& pred, const torch::Tensor& gt,
                                        const torch::Tensor& mask, std::int64_t batch_dims) {
  const auto rows = masked_rows(pred, gt, mask, batch_dims, "least_squares_scale_shift");
  const auto weight = rows.mask.to(torch::kDouble);
  const auto count = weight.sum(-1, /*keepdim=*/true);
  const auto mean_pred = rows.pred.sum(-1, true) / count;
  const auto mean_gt = rows.gt.sum(-1, true) / count;
  // Centred sums are far better conditioned than the normal equations with raw moments.
  const auto centred_pred = (rows.pred - mean_pred) * weight;
  const auto centred_gt = (rows.gt - mean_gt) * weight;
  const auto variance = centred_pred.square().sum(-1, true);
  const auto covariance = (centred_pred * centred_gt).sum(-1, true);
  const auto flat = variance.le(1e-24 * mean_pred.square() * count);
  const auto scale = torch::where(flat, torch::zeros_like(variance), covariance / variance);
  const auto shift = mean_gt - scale * mean_pred;
  auto shape = rows.batch_shape;
  shape.push_back(2);
  return torch::cat({scale, shift}, -1).reshape(shape);
}

torch::Tensor masked_median(const torch::Tensor& values, const torch::Tensor& mask) {
  const auto infinity = torch::full({}, std::numeric_limits<double>::infinity(), values.options());
  const auto sorted = std::get<0>(torch::where(mask, values, infinity).sort(-1));
  const auto count = mask.sum(-1, /*keepdim=*/true);
  const auto lower = sorted.gather(-1, torch::div(count - 1, 2, "floor"));
  const auto upper = sorted.gather(-1, torch::div(count, 2, "floor"));
  return ((lower + upper) / 2).squeeze(-1);
}

torch::Tensor median_scale(const torch::Tensor& pred, const torch::Tensor& gt,
                           const torch::Tensor& mask, std::int64_t batch_dims) {
  const auto rows = masked_rows(pred, gt, mask, batch_dims, "median_scale");
  const auto median_pred = masked_median(rows.pred, rows.mask);
  const auto median_gt = masked_median(rows.gt, rows.mask);
  const auto not_positive = median_pred.le(0);
  require(!not_positive.any().item<bool>(),
          "median_scale: the median of pred over the mask is not positive in batch element " +
              first_true_index(not_positive));
  return (median_gt / median_pred).reshape(rows.batch_shape);
}

}  // namespace vidprobe::geometry
