#include "vidprobe/probe/evaluator.h"

#include <torch/serialize.h>

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/core/progress.h"
#include "vidprobe/geometry/alignment.h"
#include "vidprobe/geometry/camera.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/image.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/metrics/camera_metrics.h"
#include "vidprobe/metrics/depth_metrics.h"
#include "vidprobe/metrics/point_metrics.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/probe/checkpoint.h"
#include "vidprobe/probe/paper_metrics.h"
#include "vidprobe/probe/views.h"
#include "vidprobe/probe/visualize.h"

namespace vidprobe::probe {
namespace fs = std::filesystem;
using nlohmann::json;

LoadedRun load_run(const fs::path& run_dir, torch::Device device) {
  require(fs::is_directory(run_dir), "run directory " + run_dir.string() + " does not exist");
  const auto config_path = run_dir / "config.json";
  require(fs::exists(config_path), "run " + run_dir.string() + " has no config.json");
  LoadedRun run;
  try {
    const auto stored = read_json_file(config_path);
    const auto preset = json_get_or<std::string>(stored, "preset", "vidfm3d", config_path.string());
    try {
      run.config = load_probe_config(config_path.string(), probe_preset(preset));
    } catch (const Error& e) {
      throw Error(config_path.string() + ": " + e.what());
    }
  } catch (const json::exception& e) {
    throw Error(config_path.string() + " is malformed: " + e.what());
  }
  const auto info_path = run_dir / "run.json";
  require(fs::exists(info_path), "run " + run_dir.string() + " has no run.json");
  try {
    run.info = read_json_file(info_path);
    const auto where = info_path.string();
    const auto& g = json_field(run.info, "geometry", where);
    auto positive = [&](const char* key) {
      const auto value = json_get<int64_t>(g, key, where + ": geometry");
      require(value > 0, where + ": geometry key '" + key + "' must be positive");
      return value;
    };
    run.geometry = {positive("frames"), positive("feature_dim"), positive("grid_h"),
                    positive("grid_w"), positive("height"),      positive("width")};
  } catch (const json::exception& e) {
    throw Error(info_path.string() + " is malformed: " + e.what());
  }
  run.baseline = MeanPredictor::load(run_dir / "baseline.safetensors");
  auto weights = run_dir / "model.safetensors";
  if (!fs::exists(weights)) {
    const auto checkpoint = latest_checkpoint(run_dir);
    require(checkpoint.has_value(),
            "run " + run_dir.string() + " has no model.safetensors and no checkpoint");
    weights = *checkpoint / "model.safetensors";
  }
  run.model = ProbeModel(run.config, run.geometry.feature_dim);
  load_weights(weights, *run.model);
  run.model->to(device);
  run.model->eval();
  return run;
}

LoadedRun load_weights_as_run(const fs::path& weights, const ProbeConfig& config,
                              int64_t feature_dim, torch::Device device) {
  LoadedRun run;
  run.config = config;
  run.info = {{"weights", fs::absolute(weights).string()}};
  run.geometry.feature_dim = feature_dim;
  run.model = ProbeModel(config, feature_dim);
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

torch::Tensor predicted_extrinsics(const nn::GeometryPrediction& p, const ProbeBatch& batch,
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

// World-from-camera [R | C] (S, 3, 4) of camera-from-world extrinsics (S, 3, 4), mapped by `sim`
// (pred -> GT world) when given: what a viewer needs to draw each camera's frustum.
torch::Tensor world_from_camera(const torch::Tensor& extrinsics,
                                const std::optional<geometry::Similarity>& sim) {
  const auto e = extrinsics.to(torch::kCPU, torch::kFloat64);
  auto rotation = e.slice(-1, 0, 3).transpose(-1, -2);                    // R^T
  auto centre = -torch::matmul(rotation, e.slice(-1, 3, 4)).squeeze(-1);  // -R^T t
  if (sim) {
    centre = sim->apply(centre);
    rotation = torch::matmul(sim->rotation.to(torch::kFloat64), rotation);
  }
  return torch::cat({rotation, centre.unsqueeze(-1)}, -1).to(torch::kFloat32).contiguous();
}

// <id>_geometry.safetensors for `vidprobe report`'s 3D viewer and PLY exports: the valid pixels'
// GT points, the predicted points Sim(3)-aligned to them, their RGB and error, and both sets of
// cameras in the GT frame (the targets' normalised frame, first camera = identity).
void write_geometry(const fs::path& path, const torch::Tensor& gt_points,
                    const torch::Tensor& pred_points, const torch::Tensor& mask,
                    const torch::Tensor& images, const ProbeBatch& batch,
                    const torch::Tensor& pred_extrinsics, int64_t index,
                    const std::optional<geometry::Similarity>& sim) {
  const auto gt = gt_points.index({mask}).contiguous();
  const auto pred = pred_points.index({mask}).contiguous();
  const auto frames = batch.targets.depth.size(1);
  auto colours = torch::full({gt.size(0), 3}, 160, torch::kUInt8);
  if (images.defined() && images.size(0) == frames)
    colours = images.permute({0, 2, 3, 1}).reshape({-1, 3}).index({mask}).contiguous();
  save_safetensors(
      path, {{"gt_points", gt},
             {"pred_points", pred},
             {"colors", colours},
             {"error", (pred - gt).norm(2, -1).contiguous()},
             {"gt_cameras",
              world_from_camera(batch.targets.extrinsics[index].to(torch::kCPU), std::nullopt)},
             {"pred_cameras", world_from_camera(pred_extrinsics, sim)},
             {"intrinsics", batch.intrinsics[index].to(torch::kCPU, torch::kFloat32).contiguous()},
             {"image_size", torch::tensor({batch.height(), batch.width()}, torch::kInt64)}});
}

void write_visuals(const fs::path& dir, const nn::GeometryPrediction& p, const ProbeBatch& batch,
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
  const auto confidence = p.depth_conf.defined()
                              ? p.depth_conf[index].to(torch::kCPU, torch::kFloat32)
                              : torch::Tensor();
  const auto panel = depth_comparison_panel(images, gt_depth, pred_depth, valid, confidence);
  write_png(dir / (id + "_depth.png"), panel.image);
  // The panel's columns and colour scales: `vidprobe report` labels them and numbers the bars.
  write_file_atomically(dir / (id + "_depth.json"), panel.layout().dump(2) + "\n");

  const auto gt_points = batch.targets.world_points[index].to(torch::kCPU).reshape({-1, 3});
  auto pred_points = p.world_points[index].to(torch::kCPU, torch::kFloat32).reshape({-1, 3});
  const auto mask = valid.reshape({-1});
  if (mask.sum().item<int64_t>() < 3) return;
  std::optional<geometry::Similarity> sim;
  try {
    sim = geometry::umeyama_alignment(pred_points.index({mask}), gt_points.index({mask}));
    pred_points = sim->apply(pred_points).to(torch::kFloat32);
  } catch (const Error&) {
    // A degenerate prediction is drawn unaligned.
  }
  const auto gt_valid = gt_points.index({mask});
  const auto pred_valid = pred_points.index({mask});
  const auto blue = torch::tensor({40, 110, 230}, torch::kUInt8).expand({gt_valid.size(0), 3});
  const auto orange = torch::tensor({245, 140, 30}, torch::kUInt8).expand({pred_valid.size(0), 3});
  write_ply(dir / (id + "_points.ply"), torch::cat({gt_valid, pred_valid}),
            torch::cat({blue, orange}));
  write_geometry(dir / (id + "_geometry.safetensors"), gt_points, pred_points, mask, images, batch,
                 predicted_extrinsics(p, batch, index), index, sim);
}

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::map<std::string, double> clip_metrics(const nn::GeometryPrediction& p, const ProbeBatch& batch,
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

namespace {

// The shapes a run's clips must have; frames and grid only when the run fixed them.
void require_compatible(const ProbeBatch& batch, const LoadedRun& run) {
  ClipGeometry g{batch.features.size(1), batch.features.size(2), batch.features.size(3),
                 batch.features.size(4), batch.height(),         batch.width()};
  if (run.geometry.frames == 0) {  // bare weights: only the channels are fixed
    require(g.feature_dim == run.geometry.feature_dim,
            "clip '" + batch.clip_ids.front() + "' has " + std::to_string(g.feature_dim) +
                " feature channels but the weights expect " +
                std::to_string(run.geometry.feature_dim));
    return;
  }
  require(g == run.geometry, "clip '" + batch.clip_ids.front() + "' reads as " + g.describe() +
                                 " but the probe was trained on " + run.geometry.describe());
}

void write_per_clip_csv(
    const fs::path& path,
    const std::vector<std::pair<std::string, std::map<std::string, double>>>& rows) {
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
  write_file_atomically(path, csv.str());
}

// Everything measured on one clip. Clips are accumulated in clip order whatever process measured
// them, so that a job splitting the batches over ranks sums exactly what one process sums.
struct ClipEvaluation {
  std::int64_t index = 0;  // in the evaluated clip list
  std::string id;
  std::map<std::string, double> probe, baseline;  // baseline: empty without one
  std::optional<metrics::PairErrors> probe_pairs, baseline_pairs;
  PaperMetrics::Clip paper;
  std::optional<PaperMetrics::Clip> paper_baseline;
};

// Everything one evaluation accumulates.
struct Evaluation {
  Aggregate probe, baseline;
  PaperMetrics paper, paper_baseline;
  std::vector<std::pair<std::string, std::map<std::string, double>>> rows;

  void add(const ClipEvaluation& c) {
    probe.add(c.probe);
    if (c.probe_pairs) probe.pairs.push_back(*c.probe_pairs);
    paper.add(c.paper);
    auto row = c.probe;
    if (c.paper_baseline) {
      baseline.add(c.baseline);
      if (c.baseline_pairs) baseline.pairs.push_back(*c.baseline_pairs);
      paper_baseline.add(*c.paper_baseline);
      for (const auto& [key, value] : c.baseline) row["baseline." + key] = value;
    }
    rows.emplace_back(c.id, std::move(row));
  }
};

std::vector<ClipEvaluation> evaluate_batch(const ProbeBatch& batch,
                                           const std::vector<features::FeatureShard>& shards,
                                           std::int64_t first_index, LoadedRun& run,
                                           torch::Device device, const EvalOptions& options,
                                           const fs::path& out_dir) {
  nn::GeometryPrediction prediction;
  {
    nn::AutocastGuard autocast(device, run.config.train.bf16);
    prediction = run.model->forward(batch.features.to(device), batch.height(), batch.width());
  }
  std::optional<nn::GeometryPrediction> baseline;
  if (run.baseline)
    baseline = run.baseline->predict(static_cast<int64_t>(shards.size()), torch::kCPU);
  const bool has_pairs = batch.extrinsics.size(1) >= 2;
  std::vector<ClipEvaluation> clips;
  for (int64_t b = 0; b < static_cast<int64_t>(shards.size()); ++b) {
    ClipEvaluation c;
    c.index = first_index + b;
    c.id = batch.clip_ids[static_cast<std::size_t>(b)];
    c.probe = clip_metrics(prediction, batch, b, options.chamfer_points);
    c.paper = PaperMetrics::measure(prediction, batch, b);
    const auto gt_extrinsics = batch.extrinsics[b].to(torch::kCPU);
    if (has_pairs)
      c.probe_pairs =
          metrics::relative_pose_errors(predicted_extrinsics(prediction, batch, b), gt_extrinsics);
    if (baseline) {
      c.baseline = clip_metrics(*baseline, batch, b, options.chamfer_points);
      c.paper_baseline = PaperMetrics::measure(*baseline, batch, b);
      if (has_pairs)
        c.baseline_pairs =
            metrics::relative_pose_errors(predicted_extrinsics(*baseline, batch, b), gt_extrinsics);
    }
    if (c.index < options.visualize) {
      const auto& images = shards[static_cast<std::size_t>(b)].images;
      write_visuals(out_dir, prediction, batch, b, images.defined() ? images : torch::Tensor());
    }
    clips.push_back(std::move(c));
  }
  return clips;
}

// --- Moving clip evaluations between ranks (torch's pickle: exact doubles, NaN included) ---

c10::IValue pack_scores(const std::map<std::string, double>& scores) {
  c10::Dict<std::string, double> dict;
  for (const auto& [key, value] : scores) dict.insert(key, value);
  return dict;
}

std::map<std::string, double> unpack_scores(const c10::IValue& value) {
  std::map<std::string, double> scores;
  for (const auto& entry : value.toGenericDict())
    scores[entry.key().toStringRef()] = entry.value().toDouble();
  return scores;
}

c10::IValue pack_pairs(const std::optional<metrics::PairErrors>& pairs) {
  if (!pairs) return c10::IValue();
  return c10::List<torch::Tensor>(
      {pairs->rotation_deg.cpu(), pairs->translation_deg.cpu(), pairs->zero_baseline.cpu()});
}

std::optional<metrics::PairErrors> unpack_pairs(const c10::IValue& value) {
  if (value.isNone()) return std::nullopt;
  const auto list = value.toTensorList();
  return metrics::PairErrors{list.get(0), list.get(1), list.get(2)};
}

c10::IValue pack_paper(const std::optional<PaperMetrics::Clip>& clip) {
  if (!clip) return c10::IValue();
  c10::impl::GenericList values(c10::AnyType::get());
  values.push_back(clip->pairs ? c10::IValue(clip->pairs->rotation_deg.cpu()) : c10::IValue());
  values.push_back(clip->pairs ? c10::IValue(clip->pairs->translation_deg.cpu()) : c10::IValue());
  values.push_back(clip->point_error);
  values.push_back(clip->depth_error);
  return values;
}

std::optional<PaperMetrics::Clip> unpack_paper(const c10::IValue& value) {
  if (value.isNone()) return std::nullopt;
  const auto values = value.toList();
  PaperMetrics::Clip clip;
  if (!values.get(0).isNone())
    clip.pairs = metrics::Vidfm3dPairErrors{values.get(0).toTensor(), values.get(1).toTensor()};
  clip.point_error = values.get(2).toDouble();
  clip.depth_error = values.get(3).toDouble();
  return clip;
}

std::string pack_clips(const std::vector<ClipEvaluation>& clips) {
  c10::impl::GenericList list(c10::AnyType::get());
  for (const auto& c : clips) {
    c10::impl::GenericList fields(c10::AnyType::get());
    for (c10::IValue field :
         {c10::IValue(c.index), c10::IValue(c.id), pack_scores(c.probe), pack_scores(c.baseline),
          pack_pairs(c.probe_pairs), pack_pairs(c.baseline_pairs), pack_paper(c.paper),
          pack_paper(c.paper_baseline)})
      fields.push_back(std::move(field));
    list.push_back(fields);
  }
  const auto bytes = torch::pickle_save(list);
  return {bytes.begin(), bytes.end()};
}

std::vector<ClipEvaluation> unpack_clips(const std::string& bytes) {
  std::vector<ClipEvaluation> clips;
  for (const auto& entry : torch::pickle_load({bytes.begin(), bytes.end()}).toList()) {
    const auto fields = entry.get().toList();
    ClipEvaluation c;
    c.index = fields.get(0).toInt();
    c.id = fields.get(1).toStringRef();
    c.probe = unpack_scores(fields.get(2));
    c.baseline = unpack_scores(fields.get(3));
    c.probe_pairs = unpack_pairs(fields.get(4));
    c.baseline_pairs = unpack_pairs(fields.get(5));
    c.paper = *unpack_paper(fields.get(6));
    c.paper_baseline = unpack_paper(fields.get(7));
    clips.push_back(std::move(c));
  }
  return clips;
}

// Every rank's clip evaluations on rank 0, in clip order (empty elsewhere).
std::vector<ClipEvaluation> gather_on_main(std::vector<ClipEvaluation> mine,
                                           const dist::Group& group) {
  if (!group.distributed()) return mine;
  const auto all = group.all_gather_bytes(pack_clips(mine));
  if (!group.is_main()) return {};
  std::vector<ClipEvaluation> clips;
  for (const auto& bytes : all)
    for (auto& c : unpack_clips(bytes)) clips.push_back(std::move(c));
  std::sort(clips.begin(), clips.end(),
            [](const ClipEvaluation& a, const ClipEvaluation& b) { return a.index < b.index; });
  return clips;
}

}  // namespace

json evaluate_run(const ClipSource& clips, const EvalOptions& options) {
  require(!clips.empty(), "evaluation: no clips");
  require(options.batch_size >= 1, "evaluation: batch size must be >= 1");
  require(!options.run_dir.empty() || !options.out_dir.empty(),
          "evaluation of bare weights needs an output directory (--out)");
  const auto device = options.device;
  auto run = options.run_dir.empty()
                 ? load_weights_as_run(options.weights, options.config,
                                       clip_geometry(clips.load(0)).feature_dim, device)
                 : load_run(options.run_dir, device);
  const auto out_dir = options.out_dir.empty() ? options.run_dir / "eval" : options.out_dir;
  fs::create_directories(out_dir);
  const ViewPlan views(run.config.views, run.config.train.seed);

  // Batch k is evaluated by rank k mod N: the batches are those of one process, so each clip's
  // prediction is computed on the same batch as there.
  const auto& group = options.group;
  std::vector<ClipEvaluation> mine;
  std::optional<Progress> progress;
  if (options.progress && group.is_main()) progress.emplace("eval", clips.size(), "clips");
  torch::NoGradGuard no_grad;
  const auto batch_size = static_cast<std::size_t>(options.batch_size);
  for (std::size_t start = 0, k = 0; start < clips.size(); start += batch_size, ++k) {
    const auto end = std::min(clips.size(), start + batch_size);
    if (static_cast<int>(k % static_cast<std::size_t>(group.size())) != group.rank()) continue;
    std::vector<features::FeatureShard> shards;
    for (std::size_t i = start; i < end; ++i) {
      const auto clip = clips.load(i);
      shards.push_back(with_views(clip, views.evaluation(clip, i)));
    }
    const auto batch = make_batch(shards, views.scale_from());
    require_compatible(batch, run);
    for (auto& c : evaluate_batch(batch, shards, static_cast<std::int64_t>(start), run, device,
                                  options, out_dir))
      mine.push_back(std::move(c));
    if (progress) progress->advance((end - start) * static_cast<std::size_t>(group.size()));
  }
  if (progress) progress->finish();
  const auto all = gather_on_main(std::move(mine), group);
  if (!group.is_main()) return json::object();
  Evaluation e;
  for (const auto& c : all) e.add(c);

  json result = e.probe.to_json();
  result["vidfm3d"] = e.paper.to_json();
  result["vidfm3d"]["paper_comparable"] = run.config.preset == "vidfm3d";
  if (run.baseline) {
    result["baseline"] = e.baseline.to_json();
    result["baseline"]["vidfm3d"] = e.paper_baseline.to_json();
  }
  result["preset"] = run.config.preset;
  result["run"] = options.run_dir.empty() ? run.info.at("weights").get<std::string>()
                                          : fs::absolute(options.run_dir).string();
  result["features_dir"] = clips.cache_dir().string();
  result["feature_manifest"] = clips.manifest();
  result["views"] = views.drawn() ? "drawn: " + run.config.views.val : "stored frames";
  result["depth_alignment"] = "median per frame";
  result["points_alignment"] = "Sim(3) Umeyama to the normalised GT";
  result["chamfer_points"] = options.chamfer_points;
  write_file_atomically(out_dir / "metrics.json", result.dump(2));
  write_per_clip_csv(out_dir / "per_clip.csv", e.rows);
  return result;
}

}  // namespace vidprobe::probe
