#include "vidprobe/probe/evaluator.h"

#include <optional>
#include <set>
#include <sstream>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/progress.h"
#include "vidprobe/geometry/alignment.h"
#include "vidprobe/geometry/camera.h"
#include "vidprobe/io/image.h"
#include "vidprobe/metrics/camera_metrics.h"
#include "vidprobe/metrics/depth_metrics.h"
#include "vidprobe/metrics/point_metrics.h"
#include "vidprobe/probe/checkpoint.h"
#include "vidprobe/probe/device.h"
#include "vidprobe/probe/visualize.h"

namespace vidprobe::probe {
namespace fs = std::filesystem;
using nlohmann::json;

LoadedRun load_run(const fs::path& run_dir, torch::Device device) {
  require(fs::is_directory(run_dir), "run directory " + run_dir.string() + " does not exist");
  LoadedRun run;
  run.config = load_probe_config((run_dir / "config.json").string());
  const auto info_path = run_dir / "run.json";
  require(fs::exists(info_path), "run " + run_dir.string() + " has no run.json");
  try {
    run.info = json::parse(read_file(info_path));
    const auto& g = run.info.at("geometry");
    run.geometry = {g.at("frames").get<int64_t>(), g.at("feature_dim").get<int64_t>(),
                    g.at("grid_h").get<int64_t>(), g.at("grid_w").get<int64_t>(),
                    g.at("height").get<int64_t>(), g.at("width").get<int64_t>()};
  } catch (const json::exception& e) {
    throw Error(info_path.string() + " is malformed: " + e.what());
  }
  run.baseline = MeanPredictor::load(run_dir / "baseline.safetensors");
  run.model = ProbeModel(run.config, run.geometry.feature_dim);
  auto weights = run_dir / "model.safetensors";
  if (!fs::exists(weights)) {
    const auto checkpoint = latest_checkpoint(run_dir);
    require(checkpoint.has_value(),
            "run " + run_dir.string() + " has no model.safetensors and no checkpoint");
    weights = *checkpoint / "model.safetensors";
  }
  load_weights(weights, *run.model);
  run.model->to(device);
  run.model->eval();
  return run;
}

namespace {

std::map<std::string, double> prefixed(const std::string& prefix,
                                       const std::map<std::string, double>& values) {
  std::map<std::string, double> out;
  for (const auto& [key, value] : values) out[prefix + key] = value;
  return out;
}

torch::Tensor predicted_extrinsics(const ProbePrediction& p, const ProbeBatch& batch,
                                   int64_t index) {
  return geometry::pose_encoding_to_extrinsics_intrinsics(
             p.pose_encoding()[index].to(torch::kCPU, torch::kFloat32), batch.height(),
             batch.width())
      .first;
}

// Accumulates per-clip values and pooled camera pair errors.
struct Aggregate {
  std::map<std::string, double> sums;
  std::map<std::string, int64_t> counts;
  std::vector<metrics::PairErrors> pairs;
  int64_t clips = 0;

  void add(const std::map<std::string, double>& values) {
    ++clips;
    for (const auto& [key, value] : values) {
      if (key.rfind("camera.", 0) == 0) continue;  // pooled separately
      if (key.rfind("depth.", 0) == 0 && values.at("depth.valid_pixels") == 0) continue;
      if (key.rfind("points.", 0) == 0 && values.at("points.valid_points") == 0) continue;
      sums[key] += value;
      counts[key] += 1;
    }
  }

  json to_json() const {
    json out = json::object();
    for (const auto& [key, sum] : sums) {
      if (key.find("valid_") != std::string::npos) continue;
      out[key] = sum / static_cast<double>(counts.at(key));
    }
    if (!pairs.empty()) {
      const auto pooled = metrics::concatenate_pair_errors(pairs);
      for (int k : {5, 15, 30}) {
        out["camera.auc" + std::to_string(k)] = metrics::pose_auc(pooled, k);
        out["camera.rra" + std::to_string(k)] = metrics::rotation_accuracy(pooled, k);
        out["camera.rta" + std::to_string(k)] = metrics::translation_accuracy(pooled, k);
      }
      out["camera.rot_err_mean"] = pooled.rotation_deg.mean().item<double>();
      out["camera.trans_err_mean"] = pooled.translation_deg.mean().item<double>();
      out["camera.pairs"] = pooled.rotation_deg.numel();
    }
    out["num_clips"] = clips;
    return out;
  }
};

void write_visuals(const fs::path& dir, const ProbePrediction& p, const ProbeBatch& batch,
                   int64_t index, const torch::Tensor& images) {
  const auto& id = batch.clip_ids[static_cast<std::size_t>(index)];
  const auto valid = batch.targets.valid[index].to(torch::kCPU);
  const auto gt_depth = batch.depth[index].to(torch::kCPU);
  auto pred_depth = p.depth[index].to(torch::kCPU, torch::kFloat32);
  // Median-aligned per frame, so both columns share one colour range.
  for (int64_t s = 0; s < pred_depth.size(0); ++s) {
    if (!valid[s].any().item<bool>()) continue;
    const auto scale = geometry::median_scale(pred_depth[s], gt_depth[s], valid[s]);
    pred_depth[s].mul_(scale.to(torch::kFloat32));
  }
  write_png(dir / (id + "_depth.png"), depth_comparison_panel(images, gt_depth, pred_depth, valid));

  const auto gt_points = batch.targets.world_points[index].to(torch::kCPU).reshape({-1, 3});
  auto pred_points = p.world_points[index].to(torch::kCPU, torch::kFloat32).reshape({-1, 3});
  const auto mask = valid.reshape({-1});
  if (mask.sum().item<int64_t>() < 3) return;
  try {
    const auto sim =
        geometry::umeyama_alignment(pred_points.index({mask}), gt_points.index({mask}));
    pred_points = sim.apply(pred_points).to(torch::kFloat32);
  } catch (const Error&) {
    // A degenerate prediction is drawn unaligned.
  }
  const auto gt_valid = gt_points.index({mask});
  const auto pred_valid = pred_points.index({mask});
  const auto blue = torch::tensor({40, 110, 230}, torch::kUInt8).expand({gt_valid.size(0), 3});
  const auto orange = torch::tensor({245, 140, 30}, torch::kUInt8).expand({pred_valid.size(0), 3});
  write_ply(dir / (id + "_points.ply"), torch::cat({gt_valid, pred_valid}),
            torch::cat({blue, orange}));
}

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::map<std::string, double> clip_metrics(const ProbePrediction& p, const ProbeBatch& batch,
                                           int64_t index, std::int64_t chamfer_points) {
  std::map<std::string, double> out;
  const auto valid = batch.targets.valid[index].to(torch::kCPU);
  if (batch.extrinsics.size(1) >= 2) {
    const auto camera = metrics::camera_metrics(predicted_extrinsics(p, batch, index),
                                                batch.extrinsics[index].to(torch::kCPU));
    out.merge(prefixed("camera.", camera));
  }
  const auto depth = metrics::depth_metrics(p.depth[index].to(torch::kCPU, torch::kFloat32),
                                            batch.depth[index].to(torch::kCPU), valid,
                                            metrics::DepthAlignment::kMedianPerFrame);
  out["depth.abs_rel"] = depth.abs_rel;
  out["depth.delta1"] = depth.delta1;
  out["depth.valid_pixels"] = static_cast<double>(depth.valid_pixels);
  // On the prediction's device: nearest neighbours are the costly part and run far faster on a GPU.
  const auto points = metrics::point_metrics(
      p.world_points[index].to(torch::kFloat32),
      batch.targets.world_points[index].to(p.world_points.device()), valid, chamfer_points);
  out["points.err"] = points.err;
  out["points.accuracy"] = points.accuracy;
  out["points.completeness"] = points.completeness;
  out["points.chamfer"] = points.chamfer;
  out["points.valid_points"] = static_cast<double>(points.valid_points);
  return out;
}

json evaluate_run(const ClipSource& clips, const EvalOptions& options) {
  require(!clips.empty(), "evaluation: no clips");
  require(options.batch_size >= 1, "evaluation: batch size must be >= 1");
  const auto device = parse_device(options.device);
  auto run = load_run(options.run_dir, device);
  const auto out_dir = options.out_dir.empty() ? options.run_dir / "eval" : options.out_dir;
  fs::create_directories(out_dir);

  Aggregate probe_scores, baseline_scores;
  std::vector<std::pair<std::string, std::map<std::string, double>>> rows;
  std::optional<Progress> progress;
  if (options.progress) progress.emplace("eval", clips.size(), "clips");
  int visualized = 0;
  torch::NoGradGuard no_grad;
  for (std::size_t start = 0; start < clips.size();
       start += static_cast<std::size_t>(options.batch_size)) {
    std::vector<features::FeatureShard> shards;
    for (std::size_t i = start; i < std::min(clips.size(), start + options.batch_size); ++i) {
      shards.push_back(clips.load(i));
      const auto g = clip_geometry(shards.back());
      require(g == run.geometry, "clip '" + shards.back().clip_id + "' has " + g.describe() +
                                     " but the probe was trained on " + run.geometry.describe());
    }
    const auto batch = make_batch(shards);
    ProbePrediction prediction;
    {
      AutocastGuard autocast(device, run.config.train.bf16);
      prediction = run.model->forward(batch.features.to(device), batch.height(), batch.width());
    }
    const auto baseline = run.baseline.predict(static_cast<int64_t>(shards.size()), torch::kCPU);
    for (int64_t b = 0; b < static_cast<int64_t>(shards.size()); ++b) {
      auto scores = clip_metrics(prediction, batch, b, options.chamfer_points);
      auto base = clip_metrics(baseline, batch, b, options.chamfer_points);
      probe_scores.add(scores);
      baseline_scores.add(base);
      if (batch.extrinsics.size(1) >= 2) {
        probe_scores.pairs.push_back(metrics::relative_pose_errors(
            predicted_extrinsics(prediction, batch, b), batch.extrinsics[b].to(torch::kCPU)));
        baseline_scores.pairs.push_back(metrics::relative_pose_errors(
            predicted_extrinsics(baseline, batch, b), batch.extrinsics[b].to(torch::kCPU)));
      }
      for (const auto& [key, value] : base) scores["baseline." + key] = value;
      rows.emplace_back(batch.clip_ids[static_cast<std::size_t>(b)], std::move(scores));
      if (visualized < options.visualize) {
        const auto& images = shards[static_cast<std::size_t>(b)].images;
        write_visuals(out_dir, prediction, batch, b, images.defined() ? images : torch::Tensor());
        ++visualized;
      }
      if (progress) progress->advance();
    }
  }
  if (progress) progress->finish();

  json result = probe_scores.to_json();
  result["baseline"] = baseline_scores.to_json();
  result["run"] = fs::absolute(options.run_dir).string();
  result["features_dir"] = clips.cache_dir().string();
  result["depth_alignment"] = "median per frame";
  result["points_alignment"] = "Sim(3) Umeyama to the normalised GT";
  result["chamfer_points"] = options.chamfer_points;
  write_file_atomically(out_dir / "metrics.json", result.dump(2));

  std::set<std::string> columns;
  for (const auto& [id, values] : rows)
    for (const auto& [key, value] : values) columns.insert(key);
  std::ostringstream csv;
  csv.precision(8);
  csv << "clip_id";
  for (const auto& key : columns) csv << "," << key;
  csv << "\n";
  for (const auto& [id, values] : rows) {
    csv << csv_escape(id);
    for (const auto& key : columns) {
      csv << ",";
      if (const auto it = values.find(key); it != values.end()) csv << it->second;
    }
    csv << "\n";
  }
  write_file_atomically(out_dir / "per_clip.csv", csv.str());
  return result;
}

}  // namespace vidprobe::probe
