#include "vidprobe/probe/losses.h"

#include <cmath>

#include "vidprobe/core/error.h"

namespace vidprobe::probe {
namespace F = torch::nn::functional;
using torch::indexing::Slice;

ProbeTargets ProbeTargets::to(torch::Device device) const {
  return {depth.to(device),      world_points.to(device),  valid.to(device),
          confidence.to(device), pose_encoding.to(device), extrinsics.to(device)};
}

namespace {

torch::Tensor finite_or_zero(const torch::Tensor& x) {
  return torch::where(torch::isfinite(x), x, torch::zeros_like(x));
}

// Every 2^scale-th row and column of (N, H, W, ...) maps.
torch::Tensor subsample(const torch::Tensor& x, int64_t step) {
  return x.index({Slice(), Slice(torch::indexing::None, torch::indexing::None, step),
                  Slice(torch::indexing::None, torch::indexing::None, step)});
}

// Normals of a point map from the four cross products of neighbour differences (VGGT's
// point_map_to_normal): normals (4, N, H, W, 3) and validity (4, N, H, W).
std::pair<torch::Tensor, torch::Tensor> point_map_normals(const torch::Tensor& points,
                                                          const torch::Tensor& mask) {
  const auto padded_mask =
      F::pad(mask.to(torch::kFloat32), F::PadFuncOptions({1, 1, 1, 1})).gt(0.5);
  const auto padded =
      F::pad(points.permute({0, 3, 1, 2}), F::PadFuncOptions({1, 1, 1, 1})).permute({0, 2, 3, 1});
  const auto center = padded.index({Slice(), Slice(1, -1), Slice(1, -1)});
  const auto up = padded.index({Slice(), Slice(0, -2), Slice(1, -1)}) - center;
  const auto left = padded.index({Slice(), Slice(1, -1), Slice(0, -2)}) - center;
  const auto down = padded.index({Slice(), Slice(2, torch::indexing::None), Slice(1, -1)}) - center;
  const auto right =
      padded.index({Slice(), Slice(1, -1), Slice(2, torch::indexing::None)}) - center;
  auto m = [&](int64_t y0, int64_t x0) {
    return padded_mask.index({Slice(), Slice(y0, y0 + mask.size(1)), Slice(x0, x0 + mask.size(2))});
  };
  const auto mc = m(1, 1), mu = m(0, 1), ml = m(1, 0), md = m(2, 1), mr = m(1, 2);
  auto normals = torch::stack({torch::cross(up, left, -1), torch::cross(left, down, -1),
                               torch::cross(down, right, -1), torch::cross(right, up, -1)});
  const auto valid = torch::stack({mu & mc & ml, ml & mc & md, md & mc & mr, mr & mc & mu});
  normals = F::normalize(normals, F::NormalizeFuncOptions().p(2).dim(-1).eps(1e-8));
  return {normals, valid};
}

}  // namespace

torch::Tensor gradient_loss(const torch::Tensor& pred, const torch::Tensor& gt,
                            const torch::Tensor& mask, const torch::Tensor& conf, double gamma,
                            double alpha) {
  const int64_t channels = pred.size(-1);
  const auto m = mask.unsqueeze(-1).expand_as(pred).to(pred.scalar_type());
  const auto diff = (pred - gt) * m;
  const auto mask_x = m.index({Slice(), Slice(), Slice(1, torch::indexing::None)}) *
                      m.index({Slice(), Slice(), Slice(torch::indexing::None, -1)});
  const auto mask_y = m.index({Slice(), Slice(1, torch::indexing::None)}) *
                      m.index({Slice(), Slice(torch::indexing::None, -1)});
  auto grad_x = (diff.index({Slice(), Slice(), Slice(1, torch::indexing::None)}) -
                 diff.index({Slice(), Slice(), Slice(torch::indexing::None, -1)}))
                    .abs()
                    .clamp_max(100) *
                mask_x;
  auto grad_y = (diff.index({Slice(), Slice(1, torch::indexing::None)}) -
                 diff.index({Slice(), Slice(torch::indexing::None, -1)}))
                    .abs()
                    .clamp_max(100) *
                mask_y;
  if (conf.defined()) {
    const auto c = conf.unsqueeze(-1).expand({-1, -1, -1, channels});
    const auto conf_x = c.index({Slice(), Slice(), Slice(1, torch::indexing::None)});
    const auto conf_y = c.index({Slice(), Slice(1, torch::indexing::None)});
    grad_x = gamma * grad_x * conf_x - alpha * torch::log(conf_x) * mask_x;
    grad_y = gamma * grad_y * conf_y - alpha * torch::log(conf_y) * mask_y;
  }
  const auto divisor = m.sum();
  if (divisor.item<double>() == 0) return (pred * 0).sum();
  return (grad_x.sum() + grad_y.sum()) / divisor;
}

torch::Tensor normal_loss(const torch::Tensor& pred, const torch::Tensor& gt,
                          const torch::Tensor& mask, const torch::Tensor& conf, double gamma,
                          double alpha) {
  const auto [pred_normals, pred_valid] = point_map_normals(pred, mask);
  const auto [gt_normals, gt_valid] = point_map_normals(gt, mask);
  const auto valid = pred_valid & gt_valid;
  if (valid.sum().item<int64_t>() < 1) return (pred * 0).sum();
  const auto dot =
      (pred_normals.index({valid}) * gt_normals.index({valid})).sum(-1).clamp(-1 + 1e-8, 1 - 1e-8);
  auto loss = 1 - dot;
  if (conf.defined()) {
    const auto c = conf.unsqueeze(0).expand({4, -1, -1, -1}).index({valid});
    loss = gamma * loss * c - alpha * torch::log(c);
  }
  return loss.mean();
}

torch::Tensor normalize_points(const torch::Tensor& points, const torch::Tensor& mask) {
  const auto m = mask.to(points.scalar_type());
  const auto distance_sum = (points.norm(2, -1) * m).sum({1, 2, 3});
  const auto scale = (distance_sum / (m.sum({1, 2, 3}) + 1e-3)).clamp(1e-3, 1e3);
  return points / scale.view({-1, 1, 1, 1, 1});
}

RegressionTerms regression_loss(const torch::Tensor& pred_in, const torch::Tensor& gt_in,
                                const torch::Tensor& mask, const torch::Tensor& predicted_conf,
                                const torch::Tensor& gt_conf, const RegressionLossConfig& config) {
  auto pred = pred_in.to(torch::kFloat32);
  auto gt = finite_or_zero(gt_in.to(torch::kFloat32));
  const auto valid = mask.to(torch::kBool) & torch::isfinite(gt_in).all(-1);
  if (config.normalize) {
    gt = normalize_points(gt, valid);
    pred = normalize_points(pred, valid);
  }
  const auto conf = config.confidence == "predicted" ? predicted_conf.to(torch::kFloat32)
                                                     : gt_conf.to(torch::kFloat32);
  // Masked sums rather than boolean indexing: no device-to-host synchronisation, no gather.
  const auto m = valid.to(torch::kFloat32);
  const auto count = m.sum().clamp_min(1);
  const auto distance = finite_or_zero((gt - pred).norm(2, -1)) * m;
  auto per_pixel = config.gamma * distance * conf;
  if (config.alpha > 0)  // log c of an invalid pixel (c = 0) must not reach the sum
    per_pixel =
        per_pixel - config.alpha * torch::log(torch::where(valid, conf, torch::ones_like(conf)));
  RegressionTerms terms;
  terms.conf = (finite_or_zero(per_pixel).clamp(-100, 100) * m).sum() / count;
  terms.reg = distance.sum() / count;

  const int64_t B = pred.size(0), S = pred.size(1), H = pred.size(2), W = pred.size(3);
  const int64_t C = pred.size(4);
  if (config.gradient == "none") {
    terms.grad = torch::zeros({}, pred.options());
  } else {
    const auto p = pred.reshape({B * S, H, W, C});
    const auto g = gt.reshape({B * S, H, W, C});
    const auto valid_maps = valid.reshape({B * S, H, W});
    const auto cf = conf.reshape({B * S, H, W});
    terms.grad = torch::zeros({}, pred.options());
    for (int scale = 0; scale < config.gradient_scales; ++scale) {
      const int64_t step = int64_t{1} << scale;
      const auto ps = subsample(p, step), gs = subsample(g, step), ms = subsample(valid_maps, step);
      const auto cs = subsample(cf, step);
      terms.grad = terms.grad + (config.gradient == "normal"
                                     ? normal_loss(ps, gs, ms, cs, config.gamma, config.alpha)
                                     : gradient_loss(ps, gs, ms, cs, config.gamma, config.alpha));
    }
    terms.grad = terms.grad / config.gradient_scales;
  }
  return terms;
}

CameraTerms camera_loss(const std::vector<torch::Tensor>& pose_encodings,
                        const torch::Tensor& gt_pose_encoding, const CameraLossConfig& config) {
  require(!pose_encodings.empty(), "camera loss: no pose encodings");
  const auto gt = gt_pose_encoding.to(torch::kFloat32);
  // Elementwise loss with non-finite entries zeroed and clamped at 100, as both references.
  auto part_loss = [&](const torch::Tensor& pred, const torch::Tensor& target) {
    torch::Tensor loss;
    if (config.type == "l1")
      loss = (pred - target).abs();
    else if (config.type == "huber")
      loss = F::huber_loss(
          pred, target,
          F::HuberLossFuncOptions().reduction(torch::kNone).delta(config.huber_delta));
    else
      loss = (pred - target).norm(2, -1, true);  // l2
    return finite_or_zero(loss).clamp(-100, 100);
  };
  const auto n = static_cast<int64_t>(pose_encodings.size());
  CameraTerms terms;
  terms.translation = terms.rotation = terms.fov = torch::zeros({}, gt.options());
  for (int64_t k = 0; k < n; ++k) {
    const double weight = std::pow(config.gamma, static_cast<double>(n - 1 - k));
    const auto pred = pose_encodings[static_cast<std::size_t>(k)].to(torch::kFloat32);
    terms.translation =
        terms.translation + weight * part_loss(pred.slice(-1, 0, 3), gt.slice(-1, 0, 3)).mean();
    terms.rotation =
        terms.rotation + weight * part_loss(pred.slice(-1, 3, 7), gt.slice(-1, 3, 7)).mean();
    terms.fov = terms.fov + weight * part_loss(pred.slice(-1, 7, 9), gt.slice(-1, 7, 9)).mean();
  }
  terms.translation = terms.translation / n;
  terms.rotation = terms.rotation / n;
  terms.fov = terms.fov / n;
  terms.total = config.weight_translation * terms.translation +
                config.weight_rotation * terms.rotation + config.weight_fov * terms.fov;
  return terms;
}

LossOutput probe_loss(const nn::GeometryPrediction& prediction, const ProbeTargets& targets,
                      const LossConfig& config) {
  const auto depth =
      regression_loss(prediction.depth.unsqueeze(-1), targets.depth.unsqueeze(-1), targets.valid,
                      prediction.depth_conf, targets.confidence, config.depth);
  const auto point =
      regression_loss(prediction.world_points, targets.world_points, targets.valid,
                      prediction.world_points_conf, targets.confidence, config.point);
  const auto camera = camera_loss(prediction.pose_encodings, targets.pose_encoding, config.camera);

  const auto depth_total =
      config.depth.weight * (depth.conf + config.depth.reg_weight * depth.reg + depth.grad);
  const auto point_total =
      config.point.weight * (point.conf + config.point.reg_weight * point.reg + point.grad);
  const auto camera_total = config.camera.weight * camera.total;

  LossOutput out;
  out.total = depth_total + point_total + camera_total;
  out.terms = {{"loss", out.total.detach()},
               {"depth", depth_total.detach()},
               {"depth_conf", depth.conf.detach()},
               {"depth_reg", depth.reg.detach()},
               {"depth_grad", depth.grad.detach()},
               {"point", point_total.detach()},
               {"point_conf", point.conf.detach()},
               {"point_reg", point.reg.detach()},
               {"point_grad", point.grad.detach()},
               {"camera", camera_total.detach()},
               {"camera_t", camera.translation.detach()},
               {"camera_r", camera.rotation.detach()},
               {"camera_fov", camera.fov.detach()}};
  return out;
}

}  // namespace vidprobe::probe
