#include "vidprobe/probe/paper_metrics.h"

namespace vidprobe::probe {

PaperMetrics::Clip PaperMetrics::measure(const nn::GeometryPrediction& p, const ProbeBatch& batch,
                                         int64_t b) {
  const auto& t = batch.targets;
  Clip clip;
  if (t.extrinsics.size(1) >= 2) {
    const auto predicted = metrics::vidfm3d_decode_extrinsics(p.pose_encoding()[b]);
    clip.pairs = metrics::vidfm3d_pair_errors(predicted, t.extrinsics[b].cpu());
  }
  clip.point_error =
      metrics::vidfm3d_point_error(p.world_points[b], t.world_points[b], t.confidence[b]);
  clip.depth_error =
      metrics::vidfm3d_depth_error(p.depth[b], t.depth[b], t.confidence[b], t.valid[b]);
  return clip;
}

void PaperMetrics::add(const nn::GeometryPrediction& p, const ProbeBatch& batch) {
  for (int64_t b = 0; b < batch.features.size(0); ++b) add(measure(p, batch, b));
}

void PaperMetrics::add(const Clip& clip) {
  if (clip.pairs) pairs_.push_back(*clip.pairs);
  point_sum_ += clip.point_error;
  depth_sum_ += clip.depth_error;
  ++clips_;
}

nlohmann::json PaperMetrics::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  if (clips_ == 0) return out;
  if (!pairs_.empty())
    for (const auto& [key, value] : metrics::vidfm3d_camera_metrics(metrics::concatenate(pairs_)))
      out[key] = value;
  out["pmap_mse_aligned"] = point_sum_ / static_cast<double>(clips_);
  out["loss_depth"] = depth_sum_ / static_cast<double>(clips_);
  out["num_clips"] = clips_;
  return out;
}

}  // namespace vidprobe::probe
