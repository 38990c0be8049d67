#include "vidprobe/probe/mean_predictor.h"

#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/probe/batch.h"

namespace vidprobe::probe {

nn::GeometryPrediction MeanPredictor::predict(int64_t batch, torch::Device device) const {
  nn::GeometryPrediction p;
  p.depth = depth.to(device).unsqueeze(0).expand({batch, -1, -1, -1}).contiguous();
  p.world_points =
      world_points.to(device).unsqueeze(0).expand({batch, -1, -1, -1, -1}).contiguous();
  p.depth_conf = torch::ones_like(p.depth);
  p.world_points_conf = torch::ones_like(p.depth);
  p.pose_encodings = {pose_encoding.to(device).unsqueeze(0).expand({batch, -1, -1}).contiguous()};
  return p;
}

void MeanPredictor::save(const std::filesystem::path& path) const {
  save_safetensors(path, {{"depth", depth.contiguous()},
                          {"world_points", world_points.contiguous()},
                          {"pose_encoding", pose_encoding.contiguous()}});
}

MeanPredictor MeanPredictor::load(const std::filesystem::path& path) {
  require(std::filesystem::exists(path), "baseline file " + path.string() + " does not exist");
  auto tensors = load_safetensors(path);
  MeanPredictor m;
  for (const char* key : {"depth", "world_points", "pose_encoding"})
    require(tensors.count(key) > 0, path.string() + ": missing tensor '" + std::string(key) + "'");
  m.depth = tensors.at("depth");
  m.world_points = tensors.at("world_points");
  m.pose_encoding = tensors.at("pose_encoding");
  return m;
}

MeanPredictor fit_mean_predictor(const ClipSource& clips, const ViewPlan& views) {
  require(!clips.empty(), "mean predictor: no training clips");
  torch::Tensor depth_sum, point_sum, count, pose_sum;
  for (std::size_t i = 0; i < clips.size(); ++i) {
    const auto clip = clips.load(i);
    const auto batch =
        make_batch({with_views(clip, views.evaluation(clip, i))}, views.scale_from());
    const auto& t = batch.targets;
    const auto valid = t.valid[0].to(torch::kFloat64);
    const auto d = t.depth[0].to(torch::kFloat64) * valid;
    const auto p = t.world_points[0].to(torch::kFloat64) * valid.unsqueeze(-1);
    const auto pose = t.pose_encoding[0].to(torch::kFloat64);
    if (!count.defined()) {
      depth_sum = torch::zeros_like(d);
      point_sum = torch::zeros_like(p);
      count = torch::zeros_like(valid);
      pose_sum = torch::zeros_like(pose);
    }
    require(d.sizes() == depth_sum.sizes(), "mean predictor: clip '" + clips.ids()[i] +
                                                "' has a different shape from the first clip");
    depth_sum += d;
    point_sum += p;
    count += valid;
    pose_sum += pose;
  }
  MeanPredictor m;
  const auto total = count.sum().clamp_min(1);
  const auto global_depth = depth_sum.sum() / total;
  const auto global_point = point_sum.reshape({-1, 3}).sum(0) / total;
  const auto seen = count.gt(0);
  const auto safe = count.clamp_min(1);
  m.depth = torch::where(seen, depth_sum / safe, global_depth).to(torch::kFloat32);
  m.world_points = torch::where(seen.unsqueeze(-1), point_sum / safe.unsqueeze(-1), global_point)
                       .to(torch::kFloat32);
  auto pose = pose_sum / static_cast<double>(clips.size());
  const auto quaternion = pose.slice(-1, 3, 7);
  pose.slice(-1, 3, 7).copy_(quaternion / quaternion.norm(2, -1, true).clamp_min(1e-12));
  m.pose_encoding = pose.to(torch::kFloat32);
  return m;
}

}  // namespace vidprobe::probe
