#include "vidprobe/probe/sweep.h"

#include <cmath>
#include <iostream>
#include <limits>
#include <regex>
#include <sstream>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/image.h"
#include "vidprobe/probe/heatmap.h"

namespace vidprobe::probe {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Metrics reported per point; true = higher is better.
const std::vector<std::pair<std::string, bool>> kMetrics = {
    {"points.err", false},  {"points.chamfer", false}, {"depth.abs_rel", false},
    {"depth.delta1", true}, {"camera.auc5", true},     {"camera.auc30", true},
    {"camera.rra30", true}, {"camera.rta30", true}};

std::string point_name(int layer, const std::optional<int>& timestep) {
  return "L" + std::to_string(layer) + (timestep ? "_t" + std::to_string(*timestep) : "");
}

double metric_of(const json& point, const std::string& key) {
  const auto& m = point.at("metrics");
  return m.contains(key) && m[key].is_number() ? m[key].get<double>()
                                               : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

std::vector<int> parse_int_list(const std::string& text, const std::string& what) {
  std::vector<int> out;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const auto first = item.find_first_not_of(' '), last = item.find_last_not_of(' ');
    require(first != std::string::npos, what + ": empty entry in '" + text + "'");
    item = item.substr(first, last - first + 1);
    std::size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(used == item.size(), what + ": '" + item + "' is not an integer (in '" + text + "')");
    out.push_back(value);
  }
  require(!out.empty(), what + ": no values in '" + text + "'");
  return out;
}

void check_heatmap_metric(const std::string& metric) {
  // The evaluator's per-run metrics (evaluator.cpp); the camera thresholds are its AUC list.
  static const std::regex known(
      R"(^(points\.(err|accuracy|completeness|chamfer)|depth\.(abs_rel|delta1)|)"
      R"(camera\.(auc|rra|rta)[0-9]+|camera\.(rot|trans)_err_mean)$)");
  require(std::regex_match(metric, known), [&] {
    return "--heatmap-metric '" + metric +
           "' is not a metric the evaluator writes (e.g. points.err, points.chamfer, "
           "depth.abs_rel, depth.delta1, camera.auc30, camera.rra30, camera.rta30)";
  });
}

json run_sweep(const SweepRequest& request) {
  // Checked before any work: the heat map is drawn only after every grid point is trained.
  check_heatmap_metric(request.heatmap_metric);
  require(!request.layers.empty(), "sweep: no layers given");
  require(!request.out_dir.empty(), "sweep: no output directory given");
  fs::create_directories(request.out_dir);
  std::vector<std::optional<int>> timesteps;
  for (int t : request.timesteps) timesteps.emplace_back(t);
  if (timesteps.empty()) timesteps.emplace_back(std::nullopt);

  // Features first, for every point at once: each clip is read and encoded once per split (WAN's
  // VAE latent is shared by all layers and timesteps), not once per grid point.
  std::vector<std::pair<int, std::optional<int>>> grid;
  for (int layer : request.layers)
    for (const auto& timestep : timesteps) grid.emplace_back(layer, timestep);
  json extraction = {{"backbone", request.extract.backbone}, {"points", grid.size()}};
  for (const Split split : {Split::kTrain, Split::kTest}) {
    auto extract = request.extract;
    extract.split = split;
    std::vector<features::ExtractTarget> targets;
    for (const auto& [layer, timestep] : grid) {
      features::ExtractTarget target;
      target.point = request.extract.point;
      target.point.layer = layer;
      if (timestep) {  // a timestep of the grid: its own noise level (t / 1000)
        target.point.timestep = timestep;
        target.point.sigma.reset();
      }
      target.out_dir =
          request.out_dir / "features" / point_name(layer, timestep) / to_string(split);
      targets.push_back(target);
    }
    std::cerr << "sweep: extracting the " << to_string(split) << " split at " << targets.size()
              << " points\n";
    const auto summaries = features::extract_features_at(extract, targets);  // skips finished
    std::cerr << "sweep: extracted the " << to_string(split) << " split at " << targets.size()
              << " points in one pass: " << features::describe(summaries.front()) << "\n";
    extraction[to_string(split)] = features::summary_json(summaries.front());
  }
  if (request.extract.group.is_main())
    write_file_atomically(request.out_dir / "extraction.json", extraction.dump(2) + "\n");
  if (request.extract_only) return extraction;

  json points = json::array();
  for (const auto& [layer, timestep] : grid) {
    const auto name = point_name(layer, timestep);
    std::cerr << "sweep: " << name << "\n";
    const auto cache_root = request.out_dir / "features" / name;
    const auto run_dir = request.out_dir / "runs" / name;
    const auto eval_dir = run_dir / "eval";
    json metrics;
    if (fs::exists(eval_dir / "metrics.json") && fs::exists(run_dir / "model.safetensors")) {
      metrics = read_json_file(eval_dir / "metrics.json");
    } else {
      if (!fs::exists(run_dir / "model.safetensors")) {
        TrainRequest train;
        train.features_dir = cache_root / "train";
        train.run_dir = run_dir;
        train.config_file = request.config_file;
        train.overrides = request.overrides;
        train.device = request.device;
        train.threads = request.threads;
        train.progress = request.progress;
        train.group = request.extract.group;
        train.resume = fs::exists(run_dir / "config.json");
        train_from_cache(train);
      }
      EvalRequest eval;
      eval.run_dir = run_dir;
      eval.features_dir = cache_root / "test";
      eval.out_dir = eval_dir;
      eval.device = request.device;
      eval.threads = request.threads;
      eval.progress = request.progress;
      eval.group = request.extract.group;
      eval.chamfer_points = request.chamfer_points;
      metrics = evaluate_from_cache(eval);
    }
    json point = {
        {"name", name}, {"layer", layer}, {"run", run_dir.string()}, {"metrics", metrics}};
    point["timestep"] = timestep ? json(*timestep) : json(nullptr);
    points.push_back(point);
  }
  json sweep = {{"backbone", request.extract.backbone},
                {"data", request.extract.dataset_root.string()},
                {"layers", request.layers},
                {"timesteps", request.timesteps},
                {"points", points}};
  if (request.extract.group.is_main())
    write_sweep_outputs(request.out_dir, sweep, request.heatmap_metric);
  request.extract.group.barrier();
  return sweep;
}

void write_sweep_outputs(const fs::path& out_dir, const json& sweep,
                         const std::string& heatmap_metric) {
  const auto& points = sweep.at("points");
  // Best point per metric.
  std::map<std::string, std::string> best;
  for (const auto& [metric, higher] : kMetrics) {
    double best_value = std::numeric_limits<double>::quiet_NaN();
    for (const auto& point : points) {
      const double v = metric_of(point, metric);
      if (!std::isfinite(v)) continue;
      if (!std::isfinite(best_value) || (higher ? v > best_value : v < best_value)) {
        best_value = v;
        best[metric] = point.at("name").get<std::string>();
      }
    }
  }
  auto out = sweep;
  out["best"] = best;
  write_file_atomically(out_dir / "sweep.json", out.dump(2));

  std::ostringstream csv, md;
  csv << "name,layer,timestep";
  md << "# Sweep: " << sweep.value("backbone", std::string()) << "\n\n| layer | timestep |";
  for (const auto& [metric, higher] : kMetrics) {
    csv << "," << metric << ",baseline." << metric;
    md << " " << metric << (higher ? " ↑" : " ↓") << " |";
  }
  csv << "\n";
  md << "\n|---|---|";
  for (std::size_t i = 0; i < kMetrics.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& point : points) {
    const auto name = point.at("name").get<std::string>();
    const std::string timestep =
        point.at("timestep").is_null() ? "" : std::to_string(point.at("timestep").get<int>());
    csv << name << "," << point.at("layer").get<int>() << "," << timestep;
    md << "| " << point.at("layer").get<int>() << " | " << (timestep.empty() ? "-" : timestep)
       << " |";
    for (const auto& [metric, higher] : kMetrics) {
      const double v = metric_of(point, metric);
      const auto& base = point.at("metrics").value("baseline", json::object());
      const double b = base.contains(metric) ? base[metric].get<double>()
                                             : std::numeric_limits<double>::quiet_NaN();
      csv << "," << (std::isfinite(v) ? format_cell(v) : "") << ","
          << (std::isfinite(b) ? format_cell(b) : "");
      const bool is_best = best.count(metric) && best.at(metric) == name;
      md << " " << (is_best ? "**" : "") << format_cell(v) << (is_best ? "**" : "") << " |";
    }
    csv << "\n";
    md << "\n";
  }
  md << "\nBold: best point per metric (↑ higher is better, ↓ lower is better). The heat map "
        "sweep_"
     << heatmap_metric << ".png shows " << heatmap_metric
     << " with layers as rows and timesteps as columns.\n";
  write_file_atomically(out_dir / "sweep.csv", csv.str());
  write_file_atomically(out_dir / "sweep.md", md.str());

  // Heat map grid.
  std::vector<int> layers = sweep.at("layers").get<std::vector<int>>();
  std::vector<int> timesteps = sweep.at("timesteps").get<std::vector<int>>();
  std::vector<std::vector<double>> grid(
      layers.size(), std::vector<double>(std::max<std::size_t>(1, timesteps.size()),
                                         std::numeric_limits<double>::quiet_NaN()));
  for (const auto& point : points) {
    const auto row =
        std::find(layers.begin(), layers.end(), point.at("layer").get<int>()) - layers.begin();
    std::ptrdiff_t col = 0;
    if (!point.at("timestep").is_null())
      col = std::find(timesteps.begin(), timesteps.end(), point.at("timestep").get<int>()) -
            timesteps.begin();
    if (row < static_cast<std::ptrdiff_t>(grid.size()) &&
        col < static_cast<std::ptrdiff_t>(grid[0].size()))
      grid[static_cast<std::size_t>(row)][static_cast<std::size_t>(col)] =
          metric_of(point, heatmap_metric);
  }
  std::vector<std::string> row_labels, column_labels;
  for (int l : layers) row_labels.push_back(std::to_string(l));
  for (int t : timesteps) column_labels.push_back(std::to_string(t));
  if (column_labels.empty()) column_labels.push_back("-");
  write_png(out_dir / ("sweep_" + heatmap_metric + ".png"),
            render_heatmap(grid, row_labels, column_labels));
}

}  // namespace vidprobe::probe
