#include "vidprobe/report/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/report/depth_panel.h"
#include "vidprobe/report/figures.h"
#include "vidprobe/report/paper_results.h"
#include "vidprobe/report/svg_chart.h"
#include "vidprobe/report/sweep_view.h"
#include "vidprobe/report/viewer.h"

namespace vidprobe::report {
namespace fs = std::filesystem;
namespace {

std::string format_value(const nlohmann::json& metrics, const std::string& key) {
  if (!metrics.contains(key) || !metrics[key].is_number()) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", metrics[key].get<double>());
  return buf;
}

double value_or_nan(const nlohmann::json& metrics, const std::string& key) {
  return metrics.contains(key) && metrics[key].is_number() ? metrics[key].get<double>() : NAN;
}

// Index of the best run per column, per dataset, for bold face.
std::set<std::pair<std::size_t, std::string>> best_cells(const std::vector<RunResult>& runs) {
  std::set<std::pair<std::size_t, std::string>> best;
  std::set<std::string> datasets;
  for (const auto& run : runs) datasets.insert(run.dataset);
  for (const auto& dataset : datasets)
    for (const auto& column : default_columns()) {
      std::optional<std::size_t> winner;
      for (std::size_t i = 0; i < runs.size(); ++i) {
        if (runs[i].dataset != dataset || runs[i].calibration) continue;
        const double v = value_or_nan(runs[i].metrics, column.key);
        if (!std::isfinite(v)) continue;
        const double w = winner ? value_or_nan(runs[*winner].metrics, column.key) : NAN;
        if (!winner || (column.higher_is_better ? v > w : v < w)) winner = i;
      }
      if (winner) best.insert({*winner, column.key});
    }
  return best;
}

// The header and alignment rows of a Markdown table: text columns, then right-aligned metrics
// titled with the direction that is better.
std::string markdown_header(const std::vector<std::string>& leading,
                            const std::vector<MetricColumn>& columns) {
  std::ostringstream md;
  md << "|";
  for (const auto& title : leading) md << " " << title << " |";
  for (const auto& column : columns)
    md << " " << column.title << (column.higher_is_better ? " ↑" : " ↓") << " |";
  md << "\n|";
  for (std::size_t i = 0; i < leading.size(); ++i) md << "---|";
  for (std::size_t i = 0; i < columns.size(); ++i) md << "---:|";
  md << "\n";
  return md.str();
}

std::vector<fs::path> pictures_of(const RunResult& run, int limit) {
  std::vector<fs::path> pictures;
  if (!fs::is_directory(run.eval_dir)) return pictures;
  for (const auto& entry : fs::recursive_directory_iterator(run.eval_dir))
    if (entry.is_regular_file() && entry.path().extension() == ".png")
      pictures.push_back(entry.path());
  std::sort(pictures.begin(), pictures.end());
  if (static_cast<int>(pictures.size()) > limit) pictures.resize(limit);
  return pictures;
}

std::string slug(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

}  // namespace

const std::vector<MetricColumn>& default_columns() {
  static const std::vector<MetricColumn> columns = {
      {"points.err", "Point err", false},       {"points.chamfer", "Chamfer", false},
      {"depth.abs_rel", "Depth AbsRel", false}, {"depth.delta1", "Depth δ<1.25", true},
      {"camera.auc5", "AUC@5", true},           {"camera.auc30", "AUC@30", true},
      {"camera.rra30", "RRA@30", true},         {"camera.rta30", "RTA@30", true},
  };
  return columns;
}

const std::vector<MetricColumn>& paper_columns() {
  static const std::vector<MetricColumn> columns = {
      {"vidfm3d.pmap_mse_aligned", "Point err", false},
      {"vidfm3d.loss_depth", "Depth err", false},
      {"vidfm3d.Auc_5", "AUC@5", true},
      {"vidfm3d.Auc_30", "AUC@30", true},
  };
  return columns;
}

namespace {

// `vidprobe eval` writes one per_clip.csv row per evaluated clip next to metrics.json: a
// num_clips that disagrees with it (a hand-edited or mixed-up file) is refused rather than shown.
void require_clip_count_matches_rows(const nlohmann::json& json, const fs::path& per_clip) {
  if (!json.contains("num_clips") || !fs::exists(per_clip)) return;
  std::ifstream in(per_clip);
  std::string line;
  std::int64_t rows = -1;  // the header is not a clip
  while (std::getline(in, line))
    if (!line.empty()) ++rows;
  const auto clips = json["num_clips"].get<std::int64_t>();
  require(rows < 0 || clips == rows, "'" + (per_clip.parent_path() / "metrics.json").string() +
                                         "': key 'num_clips' is " + std::to_string(clips) +
                                         " but " + per_clip.string() + " has " +
                                         std::to_string(rows) + " clip rows");
}

}  // namespace

RunResult load_run(const fs::path& eval_dir) {
  const auto path = eval_dir / "metrics.json";
  nlohmann::json json;
  try {
    json = read_json_file(path);
  } catch (const nlohmann::json::exception& e) {
    throw Error("'" + path.string() + "' is not valid JSON: " + e.what());
  }
  auto run = run_from_metrics_json(json, path.string(), eval_dir);
  require_clip_count_matches_rows(json, eval_dir / "per_clip.csv");
  // A calibration backbone (an oracle) seeing whole clips is a candidate for the ceiling.
  const auto* registered = backbones::lookup_backbone(run.backbone);
  run.calibration = registered && registered->calibration;
  run.ceiling = run.calibration && run.temporal == "video";
  return run;
}

FloorCeiling floor_and_ceiling(const std::vector<RunResult>& runs, const std::string& dataset,
                               const std::string& metric_key, bool higher_is_better) {
  FloorCeiling scale;
  for (const auto& run : runs) {
    if (run.dataset != dataset) continue;
    if (!std::isfinite(scale.floor)) scale.floor = value_or_nan(run.baseline, metric_key);
    const double v = value_or_nan(run.metrics, metric_key);
    if (!run.ceiling || !std::isfinite(v)) continue;
    if (!std::isfinite(scale.ceiling) ||
        (higher_is_better ? v > scale.ceiling : v < scale.ceiling)) {
      scale.ceiling = v;
      scale.ceiling_label = run.label;
    }
  }
  return scale;
}

double awareness_score(double value, const FloorCeiling& scale) {
  const double span = scale.ceiling - scale.floor;
  if (!std::isfinite(value) || !std::isfinite(span) ||
      std::abs(span) <= 1e-9 * std::max(1.0, std::abs(scale.floor)))
    return NAN;
  return (value - scale.floor) / span;
}

namespace {

// The three readouts of the paper, one metric each, for the floor-to-ceiling table.
const std::vector<MetricColumn>& score_columns() {
  static const std::vector<MetricColumn> columns = {{"points.err", "points", false},
                                                    {"depth.abs_rel", "depth", false},
                                                    {"camera.auc30", "camera", true}};
  return columns;
}

struct ScoreRow {
  std::string dataset, label;
  std::vector<double> scores;  // one per score column, then their mean
};

// Every run of a dataset that has both a floor and a ceiling, scored on the three readouts.
std::vector<ScoreRow> score_rows(const std::vector<RunResult>& runs) {
  std::vector<ScoreRow> rows;
  for (const auto& run : runs) {
    ScoreRow row{run.dataset, run.label, {}};
    double sum = 0;
    int count = 0;
    for (const auto& column : score_columns()) {
      const auto scale = floor_and_ceiling(runs, run.dataset, column.key, column.higher_is_better);
      const double score = awareness_score(value_or_nan(run.metrics, column.key), scale);
      row.scores.push_back(score);
      if (std::isfinite(score)) sum += score, ++count;
    }
    if (count == 0) continue;
    row.scores.push_back(count == static_cast<int>(score_columns().size()) ? sum / count : NAN);
    rows.push_back(row);
  }
  return rows;
}

std::string format_score(double score) {
  if (!std::isfinite(score)) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", score);
  return buf;
}

constexpr const char* kScoreExplanation =
    "0 = the constant predictor (floor), 1 = the oracle that is fed the exact geometry of whole "
    "clips (ceiling), per readout (point error, depth AbsRel, camera AUC@30), with the same probe "
    "and training budget. A score near 0 means the probe reads no more 3D out of these features "
    "than the mean training GT gives; the gap to 1 is the 3D this probe could read out of exact "
    "geometry but not out of these features.";

std::string score_markdown(const std::vector<RunResult>& runs) {
  const auto rows = score_rows(runs);
  if (rows.empty()) return "";
  std::ostringstream md;
  md << "\n## 3D awareness between floor and ceiling\n\n" << kScoreExplanation << "\n\n";
  md << "| dataset | features | points | depth | camera | mean |\n|---|---|---:|---:|---:|---:|\n";
  for (const auto& row : rows) {
    md << "| " << row.dataset << " | " << row.label << " |";
    for (const double score : row.scores) md << " " << format_score(score) << " |";
    md << "\n";
  }
  return md.str();
}

std::string score_html(const std::vector<RunResult>& runs) {
  const auto rows = score_rows(runs);
  if (rows.empty()) return "";
  std::ostringstream html;
  html << "<h2>3D awareness between floor and ceiling</h2><p>" << html_escape(kScoreExplanation)
       << "</p><table><tr><th>dataset</th><th>features</th><th>points</th><th>depth</th>"
          "<th>camera</th><th>mean</th></tr>";
  for (const auto& row : rows) {
    html << "<tr><td>" << html_escape(row.dataset) << "</td><td>" << html_escape(row.label)
         << "</td>";
    for (const double score : row.scores) html << "<td>" << format_score(score) << "</td>";
    html << "</tr>";
  }
  html << "</table>";
  return html.str();
}

}  // namespace

std::string markdown_table(const std::vector<RunResult>& runs, bool include_baselines) {
  const auto best = best_cells(runs);
  std::ostringstream md;
  md << markdown_header({"dataset", "features"}, default_columns());
  std::set<std::string> baseline_written;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& run = runs[i];
    if (include_baselines && !run.baseline.empty() && !baseline_written.count(run.dataset)) {
      baseline_written.insert(run.dataset);
      md << "| " << run.dataset << " | *constant (mean GT) predictor* |";
      for (const auto& column : default_columns())
        md << " *" << format_value(run.baseline, column.key) << "* |";
      md << "\n";
    }
    md << "| " << run.dataset << " | " << run.label << (run.calibration ? " (oracle)" : "") << " |";
    for (const auto& column : default_columns()) {
      const auto text = format_value(run.metrics, column.key);
      md << " " << (best.count({i, column.key}) ? "**" + text + "**" : text) << " |";
    }
    md << "\n";
  }
  return md.str();
}

namespace {

// One row of the paper-metrics table: a run, or the paper's published numbers after it.
struct PaperRow {
  std::string dataset, label, protocol;
  std::vector<std::string> values;
  bool published = false;
};

std::vector<PaperRow> paper_rows(const std::vector<RunResult>& runs) {
  std::vector<PaperRow> rows;
  for (const auto& run : runs) {
    if (!run.metrics.contains(paper_columns().front().key)) continue;
    PaperRow row{run.dataset,
                 run.label,
                 run.paper_comparable ? "paper's (vidfm3d)" : "other preset",
                 {},
                 false};
    for (const auto& column : paper_columns())
      row.values.push_back(format_value(run.metrics, column.key));
    rows.push_back(row);
    if (!run.paper_comparable) continue;
    if (const auto paper = paper_result_for(run.backbone, run.dataset_kind)) {
      const nlohmann::json published = {{"p", paper->point_error},
                                        {"d", paper->depth_error},
                                        {"a5", paper->auc5},
                                        {"a30", paper->auc30}};
      rows.push_back({run.dataset,
                      paper->model + ", published",
                      "paper",
                      {format_value(published, "p"), format_value(published, "d"),
                       format_value(published, "a5"), format_value(published, "a30")},
                      true});
    }
  }
  return rows;
}

std::string paper_html_table(const std::vector<RunResult>& runs) {
  const auto rows = paper_rows(runs);
  if (rows.empty()) return "";
  std::ostringstream html;
  html << "<h2>The paper's metrics</h2><table><tr><th>dataset</th><th>features</th><th>"
          "protocol</th>";
  for (const auto& column : paper_columns())
    html << "<th>" << html_escape(column.title) << (column.higher_is_better ? " ↑" : " ↓")
         << "</th>";
  html << "</tr>";
  for (const auto& row : rows) {
    html << (row.published ? "<tr class='baseline'>" : "<tr>") << "<td>" << html_escape(row.dataset)
         << "</td><td>" << html_escape(row.label) << "</td><td>" << html_escape(row.protocol)
         << "</td>";
    for (const auto& value : row.values) html << "<td>" << value << "</td>";
    html << "</tr>";
  }
  html << "</table><p>As the authors compute them (docs/protocol.md). Grey rows: the paper's "
          "published numbers for the same backbone and dataset, comparable only with runs of the "
          "vidfm3d preset on the same data.</p>";
  return html.str();
}

}  // namespace

std::string paper_markdown_table(const std::vector<RunResult>& runs) {
  const auto rows = paper_rows(runs);
  if (rows.empty()) return "";
  std::ostringstream md;
  md << markdown_header({"dataset", "features", "protocol"}, paper_columns());
  for (const auto& row : rows) {
    const std::string mark = row.published ? "*" : "";
    md << "| " << row.dataset << " | " << mark << row.label << mark << " | " << row.protocol
       << " |";
    for (const auto& value : row.values) md << " " << mark << value << mark << " |";
    md << "\n";
  }
  return md.str();
}

namespace {

// metrics.json and metrics.csv: every run's metrics for machines.
void write_machine_readable(const std::vector<RunResult>& runs, const fs::path& out_dir) {
  nlohmann::json all = nlohmann::json::array();
  std::ostringstream csv;
  csv << "dataset,features";
  for (const auto& column : default_columns()) csv << "," << column.key;
  csv << "\n";
  for (const auto& run : runs) {
    all.push_back({{"dataset", run.dataset},
                   {"label", run.label},
                   {"eval_dir", run.eval_dir.string()},
                   {"metrics", run.metrics},
                   {"baseline", run.baseline}});
    csv << run.dataset << "," << run.label;
    for (const auto& column : default_columns()) {
      const double v = value_or_nan(run.metrics, column.key);
      csv << ",";
      if (std::isfinite(v)) csv << v;
    }
    csv << "\n";
  }
  write_file_atomically(out_dir / "metrics.json", all.dump(2) + "\n");
  write_file_atomically(out_dir / "metrics.csv", csv.str());
}

// metrics.md: the tables for people.
void write_markdown(const std::vector<RunResult>& runs, const fs::path& out_dir,
                    const ReportOptions& options) {
  const std::string table = markdown_table(runs, true);
  std::ostringstream md;
  md << "# " << options.title << "\n\n";
  if (!options.notes_markdown.empty()) md << options.notes_markdown << "\n\n";
  md << table
     << "\nBold: best probe per dataset and column, oracle rows excluded (the constant "
        "predictor may still beat it). "
        "Italic rows: the constant predictor (mean of "
        "the normalised training GT), the floor a probe must clearly beat. These are vidprobe's "
        "metrics (VGGT's evaluation conventions); the paper's follow.\n"
     << score_markdown(runs);
  if (const auto paper = paper_markdown_table(runs); !paper.empty())
    md << "\n## The paper's metrics\n\nAs the authors compute them (docs/protocol.md): point "
          "error = GT-confidence-weighted distance after a Sim(3) fitted on the most confident "
          "quarter of the pixels, depth error = confidence-weighted L1 in normalised units, AUC "
          "over 31 bins of 0.968 degrees. Comparable with the paper's published rows (italic) "
          "only for runs of the vidfm3d preset on the same data.\n\n"
       << paper;
  write_file_atomically(out_dir / "metrics.md", md.str());
}

// The HTML version of vidprobe's metrics table, with the constant predictor's rows.
std::string html_results_table(const std::vector<RunResult>& runs) {
  std::ostringstream html;
  const auto best = best_cells(runs);
  html << "<table><tr><th>dataset</th><th>features</th>";
  for (const auto& column : default_columns())
    html << "<th>" << html_escape(column.title) << (column.higher_is_better ? " ↑" : " ↓")
         << "</th>";
  html << "</tr>";
  std::set<std::string> baseline_written;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& run = runs[i];
    if (!run.baseline.empty() && !baseline_written.count(run.dataset)) {
      baseline_written.insert(run.dataset);
      html << "<tr class='baseline'><td>" << html_escape(run.dataset)
           << "</td><td>constant predictor</td>";
      for (const auto& column : default_columns())
        html << "<td>" << format_value(run.baseline, column.key) << "</td>";
      html << "</tr>";
    }
    html << "<tr><td>" << html_escape(run.dataset) << "</td><td>" << html_escape(run.label)
         << (run.calibration ? " (oracle)" : "") << "</td>";
    for (const auto& column : default_columns()) {
      const auto text = format_value(run.metrics, column.key);
      html << "<td>" << (best.count({i, column.key}) ? "<b>" + text + "</b>" : text) << "</td>";
    }
    html << "</tr>";
  }
  html << "</table><p>Bold: best probe per dataset and column, oracle rows excluded (the "
          "constant predictor may still beat it). Grey rows: the constant (mean GT) "
          "predictor. vidprobe's metrics (VGGT's evaluation conventions).</p>";
  return html.str();
}

// Links to each clip's 3D viewer and PLY exports.
std::string html_clip_viewers(const RunResult& run, const std::string& prefix,
                              const fs::path& out_dir, const ReportOptions& options) {
  const auto viewers =
      write_clip_viewers(run, prefix, out_dir, options.viewer_clips, options.viewer_point_budget);
  if (viewers.empty()) return "";
  std::ostringstream html;
  html << "<ul class='viewers'>";
  for (const auto& viewer : viewers) {
    html << "<li>" << html_escape(viewer.clip) << ": ";
    if (!viewer.page.empty())
      html << "<a href='" << html_escape(viewer.page) << "'>3D view</a> (" << viewer.points
           << " points per cloud), ";
    html << "PLY:";
    for (const auto& file : viewer.exports)
      html << " <a href='" << html_escape(file) << "'>"
           << html_escape(fs::path(file).filename().string()) << "</a>";
    html << "</li>";
  }
  html << "</ul>";
  if (viewers.front().page.empty())
    html << "<p>No 3D view: three.js was not found (install Debian's libjs-three or set "
            "VIDPROBE_THREE_JS).</p>";
  return html.str();
}

// One dataset's benchmark figures: the radar charts and a bar chart per metric with the floor
// (the constant predictor, also a grey bar) and the ceiling marked.
std::string html_benchmark_dataset(const std::vector<RunResult>& runs, const std::string& dataset) {
  std::ostringstream html;
  html << "<h2>" << html_escape(dataset) << "</h2>" << html_radar_section(runs, dataset)
       << "<div class='charts bars'>";
  for (const auto& column : default_columns()) {
    std::vector<Bar> bars;
    for (const auto& run : runs)
      if (run.dataset == dataset && run.metrics.contains(column.key))
        bars.push_back({run.label, value_or_nan(run.metrics, column.key), false});
    for (const auto& run : runs)
      if (run.dataset == dataset && run.baseline.contains(column.key)) {
        bars.push_back({"constant", value_or_nan(run.baseline, column.key), true});
        break;
      }
    const auto scale = floor_and_ceiling(runs, dataset, column.key, column.higher_is_better);
    const std::vector<ReferenceLine> lines = {
        {"floor: constant", scale.floor, "#777777"},
        {"ceiling: " + scale.ceiling_label, scale.ceiling, "#1b9e3a"}};
    if (!bars.empty()) html << svg_bar_chart(column.title, bars, column.higher_is_better, lines);
  }
  html << "</div>";
  return html.str();
}

std::string run_anchor(const RunResult& run) {
  return "run-" + slug(run.dataset + "_" + run.label);
}

// One run's page: training curves, the 3D views and exports of its clips, and its depth panels
// (copied next to the page, each with its column titles and numbered colour bars).
std::string html_run_section(const RunResult& run, const fs::path& out_dir,
                             const ReportOptions& options) {
  const auto prefix = slug(run.dataset + "_" + run.label);
  std::ostringstream html;
  html << "<div class='run' id='" << run_anchor(run) << "'><h2>" << html_escape(run.dataset)
       << " / " << html_escape(run.label) << "</h2>" << html_training_curves(run.eval_dir)
       << html_clip_viewers(run, prefix, out_dir, options);
  const auto pictures = pictures_of(run, options.pictures_per_run);
  if (!pictures.empty()) {
    html << "<p class='legend'>Depth panels of held-out clips, one row per frame: the input, GT "
            "and predicted depth (median-aligned per frame; both on one colour scale per clip, the "
            "GT's 2nd to 98th percentile), the relative error (0 to 30 %) and the predicted "
            "confidence (log scale); the numbers under each colour bar are its scale.</p>"
            "<div class='pics'>";
    for (const auto& picture : pictures) {
      const auto name = prefix + "_" + picture.filename().string();
      write_file_atomically(out_dir / "assets" / name, read_file(picture));
      html << html_depth_panel(picture, "assets/" + name);
    }
    html << "</div>";
  }
  html << "</div>";
  return html.str();
}

// The report's views, one shown at a time (index.html#benchmark, #sweeps, #runs, or #run-<name>
// for one run's part of #runs); without a known hash the first view. Without scripts every view
// shows, one after the other.
constexpr const char* kViewSwitch = R"JS(<script>
(function () {
  const views = Array.from(document.querySelectorAll('section.view'));
  const runs = Array.from(document.querySelectorAll('div.run'));
  function show() {
    const hash = location.hash.slice(1);
    const run = runs.find(function (r) { return r.id === hash; });
    const wanted = run ? 'runs' : views.some(function (v) { return v.id === hash; })
                                      ? hash : views[0].id;
    views.forEach(function (v) { v.hidden = v.id !== wanted; });
    runs.forEach(function (r) { r.hidden = run !== undefined && r !== run; });
    document.querySelectorAll('nav.views a').forEach(function (a) {
      a.classList.toggle('current', a.getAttribute('href') === '#' + wanted);
    });
    window.scrollTo(0, 0);
  }
  window.addEventListener('hashchange', show);
  // The browser scrolls to the fragment's section after the page loads, past the title and the
  // tabs: back to the top once it has.
  window.addEventListener('load', function () { setTimeout(function () { window.scrollTo(0, 0); }, 0); });
  show();
})();
</script>)JS";

// Click a column header to sort its table's rows by that column (numbers numerically, "n/a"
// last), click again to reverse; the constant predictor's rows move with the others.
constexpr const char* kSortableTables = R"JS(<script>
document.querySelectorAll('table').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (header, column) {
    header.style.cursor = 'pointer';
    header.title = 'sort by this column';
    header.addEventListener('click', function () {
      const rows = Array.from(table.querySelectorAll('tr')).slice(1);
      const ascending = header.dataset.order !== 'asc';
      header.dataset.order = ascending ? 'asc' : 'desc';
      const key = function (row) {
        const text = row.children[column] ? row.children[column].textContent : '';
        const number = parseFloat(text);
        return isNaN(number) ? text : number;
      };
      rows.sort(function (a, b) {
        const x = key(a), y = key(b);
        if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1;
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      rows.forEach(function (row) { row.parentNode.appendChild(row); });
    });
  });
});
</script>)JS";

}  // namespace

void write_report(const std::vector<RunResult>& runs, const fs::path& out_dir,
                  const ReportOptions& options) {
  require(!runs.empty() || !options.sweeps.empty(),
          "no evaluated runs and no sweeps were given to the report");
  fs::create_directories(out_dir / "assets");
  write_machine_readable(runs, out_dir);
  write_markdown(runs, out_dir, options);

  std::set<std::string> datasets;
  for (const auto& run : runs) datasets.insert(run.dataset);
  // The views: benchmark (tables, radar, bars), sweeps (heat maps, layer curves), runs (curves,
  // 3D views, depth panels).
  std::vector<std::pair<std::string, std::string>> views;  // id, title
  if (!runs.empty()) views.emplace_back("benchmark", "Benchmark");
  if (!options.sweeps.empty()) views.emplace_back("sweeps", "Sweeps");
  if (!runs.empty()) views.emplace_back("runs", "Runs: curves, depth panels, 3D views");

  std::ostringstream html;
  html << "<!doctype html><html><head><meta charset='utf-8'><title>" << html_escape(options.title)
       << "</title><style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 "
          "1em}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px "
          "8px;text-align:right}"
          "td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}tr.baseline "
          "td{color:#777;font-style:italic}"
          ".charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}"
          ".sweep>div{display:flex;gap:8px;align-items:flex-start}"
          ".pics img{image-rendering:pixelated;display:block;max-width:100%}"
          ".depth-panel{margin:1em 0;max-width:100%}.depth-panel svg{display:block}"
          "nav.views{margin:1em 0;border-bottom:2px solid #ccc}nav.views "
          "a{display:inline-block;padding:6px 14px;margin-right:4px;text-decoration:none;"
          "color:#333;border:1px solid #ccc;border-bottom:none;background:#f4f4f4}"
          "nav.views a.current{background:#fff;font-weight:bold}"
          "ul.run-index{columns:2}</style></head><body>";
  html << "<h1>" << html_escape(options.title) << "</h1>";
  if (!options.notes_markdown.empty())
    html << "<p>" << html_escape(options.notes_markdown) << "</p>";
  html << "<nav class='views'>";
  for (const auto& [id, title] : views)
    html << "<a href='#" << id << "'>" << html_escape(title) << "</a>";
  html << "</nav>";
  if (!runs.empty()) {
    html << "<section class='view' id='benchmark'>" << html_results_table(runs) << score_html(runs)
         << paper_html_table(runs);
    for (const auto& dataset : datasets) html << html_benchmark_dataset(runs, dataset);
    html << "</section>";
  }
  if (!options.sweeps.empty()) {
    html << "<section class='view' id='sweeps'>";
    for (const auto& sweep : options.sweeps) html << html_sweep_section(sweep);
    html << "</section>";
  }
  if (!runs.empty()) {
    html << "<section class='view' id='runs'><ul class='run-index'>";
    for (const auto& run : runs)
      html << "<li><a href='#" << run_anchor(run) << "'>" << html_escape(run.dataset) << " / "
           << html_escape(run.label) << "</a></li>";
    html << "</ul>";
    for (const auto& run : runs) html << html_run_section(run, out_dir, options);
    html << "</section>";
  }
  html << kSortableTables << kViewSwitch << "</body></html>\n";
  write_file_atomically(out_dir / "index.html", html.str());
}

}  // namespace vidprobe::report
