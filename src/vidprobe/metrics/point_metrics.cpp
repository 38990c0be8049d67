#include "vidprobe/metrics/point_metrics.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "vidprobe/core/error.h"
#include "vidprobe/geometry/alignment.h"
#include "vidprobe/geometry/tensor_checks.h"

namespace vidprobe::metrics {
namespace {

bool all_identical(const torch::Tensor& points) {
  const auto mean = points.mean(0);
  const auto spread = (points - mean).square().sum(-1).mean();
  return spread.le(1e-24 * mean.square().sum()).item<bool>();
}

}  // namespace

torch::Tensor mean_nearest_neighbour_distance(const torch::Tensor& a, const torch::Tensor& b,
                                              std::int64_t max_distances_per_chunk) {
  geometry::require_float_with_tail(a, {3}, "mean_nearest_neighbour_distance: a");
  geometry::require_float_with_tail(b, {3}, "mean_nearest_neighbour_distance: b");
  require(a.dim() == 2 && b.dim() == 2 && a.size(0) >= 1 && b.size(0) >= 1,
          "mean_nearest_neighbour_distance: needs non-empty (N, 3) and (M, 3) clouds, got " +
              geometry::shape_string(a) + " and " + geometry::shape_string(b));
  const auto queries = a.to(torch::kDouble);
  const auto targets = b.to(queries.device()).to(torch::kDouble);
  require(max_distances_per_chunk >= 1,
          "mean_nearest_neighbour_distance: max_distances_per_chunk must be >= 1");
  const auto chunk = std::max<int64_t>(1, max_distances_per_chunk / targets.size(0));
  auto total = torch::zeros({}, queries.options());
  for (int64_t start = 0; start < queries.size(0); start += chunk) {
    const auto block = queries.narrow(0, start, std::min(chunk, queries.size(0) - start));
    const auto nearest = torch::cdist(block, targets).argmin(1);
    total += (block - targets.index_select(0, nearest)).norm(2, -1).sum();
  }
  return total / static_cast<double>(queries.size(0));
}

PointScores point_metrics(const torch::Tensor& pred, const torch::Tensor& gt,
                          const torch::Tensor& valid, std::int64_t max_points, std::uint64_t seed) {
  geometry::require_float_with_tail(pred, {3}, "point_metrics: pred");
  require(gt.defined() && gt.is_floating_point() && gt.sizes() == pred.sizes(),
          "point_metrics: gt must be a floating-point tensor shaped like pred " +
              geometry::shape_string(pred) + ", got " + geometry::shape_string(gt));
  require(valid.defined() && valid.scalar_type() == torch::kBool &&
              valid.sizes() == pred.sizes().slice(0, pred.dim() - 1),
          "point_metrics: valid must be a bool tensor of shape " +
              geometry::shape_string(pred.select(-1, 0)) + ", got " +
              geometry::shape_string(valid));
  require(max_points >= 1,
          "point_metrics: max_points must be >= 1, got " + std::to_string(max_points));
  const auto device = pred.device();
  const auto pred_points = pred.reshape({-1, 3}).to(torch::kDouble);
  const auto gt_points = gt.to(device).reshape({-1, 3}).to(torch::kDouble);
  const auto mask = valid.to(device).reshape({-1}) & torch::isfinite(gt_points).all(-1);
  geometry::require_finite(pred_points, mask, "point_metrics: pred");

  PointScores scores;
  const auto indices = mask.nonzero().squeeze(-1);
  const auto count = indices.numel();
  if (count < 3) return scores;
  const auto source = pred_points.index_select(0, indices);
  const auto target = gt_points.index_select(0, indices);
  require(!all_identical(target), "point_metrics: the valid gt points are all identical");

  const auto aligned = all_identical(source)
                           ? target.mean(0, /*keepdim=*/true).expand_as(target)
                           : geometry::umeyama_alignment(source, target).apply(source);
  scores.valid_points = count;
  scores.err = (aligned - target).norm(2, -1).mean().item<double>();

  auto aligned_cloud = aligned, target_cloud = target;
  if (count > max_points) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const auto keep =
        torch::randperm(count, generator, torch::kLong).narrow(0, 0, max_points).to(device);
    aligned_cloud = aligned.index_select(0, keep);
    target_cloud = target.index_select(0, keep);
  }
  scores.accuracy = mean_nearest_neighbour_distance(aligned_cloud, target_cloud).item<double>();
  scores.completeness = mean_nearest_neighbour_distance(target_cloud, aligned_cloud).item<double>();
  scores.chamfer = (scores.accuracy + scores.completeness) / 2;
  return scores;
}

}  // namespace vidprobe::metrics
