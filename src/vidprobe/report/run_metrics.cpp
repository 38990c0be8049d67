#include "vidprobe/report/run_metrics.h"

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"

namespace vidprobe::report {
namespace {

void flatten_into(const nlohmann::json& node, const std::string& prefix, nlohmann::json& out) {
  for (const auto& [key, value] : node.items()) {
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object())
      flatten_into(value, name, out);
    else if (value.is_number())
      out[name] = value;
  }
}

// Keys left out are not required (hand-made rows for a report); a metric key holds a number, or
// null for NaN, rather than anything that would be drawn as a row of the report.
void require_numbers_under_metric_keys(const nlohmann::json& block, const std::string& context) {
  for (const auto& [key, value] : block.items()) {
    const bool metric =
        key.rfind("depth.", 0) == 0 || key.rfind("points.", 0) == 0 || key.rfind("camera.", 0) == 0;
    require(!metric || value.is_number() || value.is_null(),
            context + ": key '" + key + "' must be a number, got " + value.dump());
  }
}

void validate_metrics_json(const nlohmann::json& json, const std::string& where) {
  require(json.is_object(), "'" + where + "' must hold a JSON object");
  require(json_get_or<std::int64_t>(json, "num_clips", 1, where) > 0,
          where + ": key 'num_clips' must be positive");
  require_numbers_under_metric_keys(json, where);
  if (json.contains("baseline")) {
    require(json["baseline"].is_object(), where + ": key 'baseline' must be an object");
    require_numbers_under_metric_keys(json["baseline"], where + " baseline");
  }
  require(!json.contains("preset") || json["preset"].is_string(),
          where + ": key 'preset' must be a string");
  require(!json.contains("run") || json["run"].is_string() || json["run"].is_object(),
          where + ": key 'run' must be the run directory or a {label, dataset} object");
}

// The backbone and dataset kind of the features, from the feature cache's identity that eval
// copies into metrics.json.
void read_feature_identity(const nlohmann::json& json, const std::string& where, RunResult& run) {
  if (!json.contains("feature_manifest") || !json["feature_manifest"].is_object()) return;
  const auto identity = json["feature_manifest"].value("identity", nlohmann::json());
  if (!identity.is_object()) return;
  const auto context = where + " feature_manifest.identity";
  run.backbone = json_get_or<std::string>(identity, "backbone", "", context);
  run.dataset_kind = json_get_or<std::string>(identity, "dataset_kind", "", context);
  run.temporal = json_get_or<std::string>(identity, "temporal", "video", context);
}

}  // namespace

nlohmann::json flatten_metrics(const nlohmann::json& nested) {
  nlohmann::json out = nlohmann::json::object();
  if (nested.is_object()) flatten_into(nested, "", out);
  return out;
}

RunResult run_from_metrics_json(const nlohmann::json& json, const std::string& where,
                                const std::filesystem::path& eval_dir) {
  validate_metrics_json(json, where);
  RunResult run;
  run.eval_dir = eval_dir;
  nlohmann::json metrics_part = json;
  if (json.contains("baseline")) {
    run.baseline = flatten_metrics(json["baseline"]);
    metrics_part.erase("baseline");
  }
  if (json.contains("run")) metrics_part.erase("run");
  run.metrics = flatten_metrics(metrics_part);
  // `vidprobe eval` writes "run" as the run directory; a label/dataset object is also accepted.
  const auto info =
      json.contains("run") && json["run"].is_object() ? json["run"] : nlohmann::json::object();
  run.label = json_get_or<std::string>(info, "label", eval_dir.filename().string(), where + " run");
  run.dataset = json_get_or<std::string>(info, "dataset", "data", where + " run");
  if (json.contains("vidfm3d") && json["vidfm3d"].is_object())
    run.paper_comparable =
        json_get_or<bool>(json["vidfm3d"], "paper_comparable", false, where + " vidfm3d");
  read_feature_identity(json, where, run);
  require(!run.metrics.empty(), "'" + where + "' holds no numeric metrics");
  return run;
}

}  // namespace vidprobe::report
