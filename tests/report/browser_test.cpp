// The report as a user sees it: Debian's headless Chromium (chromium-headless-shell, software
// WebGL through SwiftShader) opens each view of a generated report and the 3D viewer. Per view, a
// script the test adds to a copy of the page reports which expected elements exist, are visible
// (non-zero size) and lie inside the viewport when scrolled to, how many marks the charts hold,
// whether images loaded and tick labels have text; the view's screenshot must not be blank and
// must show colour where the page says its charts and panels are. The README's test command
// installs the browser and sets VIDPROBE_REQUIRE_BROWSER, so CI cannot skip this; elsewhere it
// skips when the browser is missing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "report_fixture.h"
#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/io/image.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/probe/visualize.h"
#include "vidprobe/report/report.h"
#include "vidprobe/report/viewer.h"

namespace vidprobe::report {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Browser {
  fs::path binary;
  static Browser find() {
    for (const char* name : {"chromium-headless-shell", "chromium"})
      for (const char* dir : {"/usr/bin", "/usr/local/bin"})
        if (fs::exists(fs::path(dir) / name)) return {fs::path(dir) / name};
    return {};
  }
  // Opens `url`; returns the browser's stderr (console messages land there).
  std::string run(const std::string& arguments, const std::string& url, const fs::path& log) const {
    const auto command = binary.string() +
                         " --no-sandbox --disable-gpu-sandbox --enable-unsafe-swiftshader "
                         "--use-angle=swiftshader --hide-scrollbars --enable-logging=stderr "
                         "--v=0 " +
                         arguments + " '" + url + "' > '" + log.string() + ".out' 2> '" +
                         log.string() + "'";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return read_file(log);
  }
};

void expect_no_console_errors(const std::string& log, const std::string& page) {
  for (const char* bad : {"Uncaught", ":ERROR:CONSOLE", "Failed to load resource"})
    EXPECT_EQ(log.find(bad), std::string::npos) << bad << " in the log of " << page << ":\n" << log;
}

// What the page script found for one selector.
struct Found {
  int count = 0, visible = 0, inside = 0, loaded = 0, with_text = 0;
  std::array<int, 4> first{};  // left, top, width, height of the first visible one, at scroll 0
};

// Added to a copy of index.html: after load, for every selector, how many elements match, how
// many have a size and stay inside the viewport when scrolled to, images loaded, elements with
// text; logged as one JSON line.
constexpr const char* kCheckScript = R"JS(
window.addEventListener('load', function () { setTimeout(function () {
  // A line's box has one side 0; a hidden element's (or one shrunk to a point) both.
  const sized = function (r) { return r.width > 0 || r.height > 0; };
  const out = {};
  window.scrollTo(0, 0);
  for (const selector of window.VIDPROBE_SELECTORS) {  // where the screenshot shows them
    const first = Array.from(document.querySelectorAll(selector))
                      .find(function (e) { return sized(e.getBoundingClientRect()); });
    const r = first ? first.getBoundingClientRect() : null;
    out[selector] = {count: 0, visible: 0, inside: 0, loaded: 0, text: 0,
                     first: r ? [r.left, r.top, r.width, r.height].map(Math.round) : [0, 0, 0, 0]};
  }
  for (const selector of window.VIDPROBE_SELECTORS) {
    const o = out[selector];
    for (const e of document.querySelectorAll(selector)) {
      o.count++;
      if (sized(e.getBoundingClientRect()) && getComputedStyle(e).visibility !== 'hidden')
        o.visible++;
      if (e.tagName === 'IMG' && e.complete && e.naturalWidth > 0) o.loaded++;
      if (e.textContent.trim()) o.text++;
      e.scrollIntoView({block: 'start', inline: 'nearest'});
      const s = e.getBoundingClientRect();
      if (sized(s) && s.top >= -1 && s.top < innerHeight && s.left >= -1 &&
          s.right <= innerWidth + 1)
        o.inside++;
    }
  }
  window.scrollTo(0, 0);
  console.log('VIDPROBE_CHECK ' + JSON.stringify(out) + ' VIDPROBE_END');
}, 100); });
)JS";

struct View {
  std::map<std::string, Found> found;
  ImageU8 screenshot;
};

// Opens report/index.html#<hash> at 1200 x 1600 with the check script for `selectors`.
View open_view(const Browser& browser, const fs::path& report, const std::string& hash,
               const std::vector<std::string>& selectors) {
  const auto name = hash.empty() ? std::string("top") : hash;
  auto page = read_file(report / "index.html");
  const auto body_end = page.rfind("</body>");
  page.insert(body_end, "<script>window.VIDPROBE_SELECTORS = " + nlohmann::json(selectors).dump() +
                            ";</script><script src='check.js'></script>");
  write_file_atomically(report / "check.js", kCheckScript);
  write_file_atomically(report / "check.html", page);
  const auto shot = report.parent_path() / (name + ".png");
  const auto log = browser.run(
      "--screenshot='" + shot.string() + "' --window-size=1200,1600 --virtual-time-budget=5000",
      "file://" + (report / "check.html").string() + "#" + hash,
      report.parent_path() / (name + ".log"));
  expect_no_console_errors(log, "#" + hash);
  View view;
  const auto begin = log.find("VIDPROBE_CHECK ");
  const auto end = log.find(" VIDPROBE_END", begin);
  if (begin == std::string::npos || end == std::string::npos) {
    ADD_FAILURE() << "#" << hash << ": the check script logged nothing:\n" << log;
    return view;
  }
  const auto json = nlohmann::json::parse(log.substr(begin + 15, end - begin - 15));
  for (const auto& [selector, r] : json.items())
    view.found[selector] = {r["count"],  r["visible"], r["inside"],
                            r["loaded"], r["text"],    r["first"].get<std::array<int, 4>>()};
  view.screenshot = read_png_u8(shot);
  return view;
}

// `count` elements match, every one visible and inside the viewport when scrolled to.
void expect_shown(const View& view, const std::string& selector, int count) {
  const auto& f = view.found.at(selector);
  EXPECT_EQ(f.count, count) << selector;
  EXPECT_EQ(f.visible, f.count) << selector << ": not every one has a size";
  EXPECT_EQ(f.inside, f.count) << selector << ": not every one is inside the viewport";
}

void expect_hidden(const View& view, const std::string& selector) {
  EXPECT_GE(view.found.at(selector).count, 1) << selector;
  EXPECT_EQ(view.found.at(selector).visible, 0) << selector << " shows in another view";
}

int chroma(const ImageU8& image, int x, int y) {
  const int r = image.at(x, y, 0), g = image.at(x, y, 1), b = image.at(x, y, 2);
  return std::max({r, g, b}) - std::min({r, g, b});
}

// Pixels of clear colour (not white, grey or black) in the screenshot where the page put the
// first visible element of `selector`.
int coloured_pixels_at(const View& view, const std::string& selector) {
  const auto [left, top, width, height] = view.found.at(selector).first;
  const auto& shot = view.screenshot;
  int coloured = 0;
  for (int y = std::max(0, top); y < std::min(shot.height, top + height); ++y)
    for (int x = std::max(0, left); x < std::min(shot.width, left + width); ++x)
      coloured += chroma(shot, x, y) > 40;
  return coloured;
}

// Standard deviation of the screenshot's grey levels: a blank page is ~0.
double grey_spread(const ImageU8& shot) {
  double sum = 0, squares = 0;
  const double n = static_cast<double>(shot.width) * shot.height;
  for (int y = 0; y < shot.height; ++y)
    for (int x = 0; x < shot.width; ++x) {
      const double grey = (shot.at(x, y, 0) + shot.at(x, y, 1) + shot.at(x, y, 2)) / 3.0;
      sum += grey;
      squares += grey * grey;
    }
  return std::sqrt(std::max(0.0, squares / n - (sum / n) * (sum / n)));
}

// Every metric of the report's tables, so each bar chart has a bar per run and the constant's.
// The offset alternates in sign over the columns, so that no run is the worst on every axis (its
// radar polygon would shrink to the centre).
nlohmann::json all_metrics(double offset) {
  nlohmann::json m = {{"vidfm3d.pmap_mse_aligned", 0.3 + offset},
                      {"vidfm3d.loss_depth", 0.15 - offset},
                      {"vidfm3d.Auc_5", 0.2 - offset},
                      {"vidfm3d.Auc_30", 0.7 + offset}};
  double sign = 1;
  for (const auto& column : default_columns()) m[column.key] = 0.4 + (sign = -sign) * offset;
  return m;
}

// Two runs of one dataset: "wan L20" (the paper's protocol, with a depth panel, a 3D view and a
// training log) and "pixels"; and a 2 x 2 sweep.
struct ReportFixture {
  fs::path root;
  std::vector<RunResult> runs;
  ReportOptions options;

  explicit ReportFixture(const fs::path& dir) : root(dir) {
    RunResult wan;
    wan.label = "wan L20";
    wan.dataset = "objects";
    wan.eval_dir = root / "wan" / "eval";
    wan.metrics = all_metrics(0.0);
    wan.baseline = all_metrics(0.2);
    wan.paper_comparable = true;
    wan.backbone = "vidfm3d:wan-14b";
    wan.dataset_kind = "co3d";
    fs::create_directories(wan.eval_dir);
    save_safetensors(wan.eval_dir / "clip_7_geometry.safetensors",
                     test_fixture::sphere_geometry(3000));
    write_depth_panel(wan.eval_dir);
    std::string log;
    for (int step = 10; step <= 50; step += 10)
      log += nlohmann::json({{"step", step},
                             {"loss", 2.0 / step},
                             {"loss_depth", 1.0 / step},
                             {"lr", 1e-4},
                             {"val.Auc_30", 0.01 * step}})
                 .dump() +
             "\n";
    write_file_atomically(root / "wan" / "train_log.jsonl", log);

    RunResult pixels = wan;
    pixels.label = "pixels";
    pixels.eval_dir = root / "pixels" / "eval";
    pixels.metrics = all_metrics(0.1);
    pixels.paper_comparable = false;
    fs::create_directories(pixels.eval_dir);
    runs = {wan, pixels};

    nlohmann::json points = nlohmann::json::array();
    for (const int layer : {10, 20})
      for (const int timestep : {100, 500})
        points.push_back({{"layer", layer},
                          {"timestep", timestep},
                          {"metrics", all_metrics(0.001 * (layer + timestep / 100))}});
    fs::create_directories(root / "sweep");
    write_file_atomically(root / "sweep" / "sweep.json",
                          nlohmann::json({{"backbone", "wan2.1-t2v-1.3b"},
                                          {"layers", {10, 20}},
                                          {"timesteps", {100, 500}},
                                          {"points", points}})
                              .dump());
    options.sweeps = {root / "sweep"};
  }

  // The evaluator's panel of a 2-frame clip (input, GT, prediction, error, confidence).
  static void write_depth_panel(const fs::path& eval_dir) {
    const int64_t S = 2, H = 48, W = 64;
    const auto gt = torch::linspace(1, 4, S * H * W).reshape({S, H, W});
    const auto pred = gt * (1 + 0.1 * torch::rand({S, H, W}));
    const auto rgb = (torch::rand({S, 3, H, W}) * 255).to(torch::kUInt8);
    const auto panel = probe::depth_comparison_panel(
        rgb, gt, pred, torch::ones({S, H, W}, torch::kBool), torch::rand({S, H, W}) * 5 + 1);
    write_png(eval_dir / "clip_7_depth.png", panel.image);
    write_file_atomically(eval_dir / "clip_7_depth.json", panel.layout().dump());
  }
};

// The browser and three.js, or a skip (a failure under VIDPROBE_REQUIRE_BROWSER).
#define FIND_BROWSER_OR_SKIP(browser)                                                      \
  const auto browser = Browser::find();                                                    \
  if (browser.binary.empty() || three_js_source().empty()) {                               \
    if (std::getenv("VIDPROBE_REQUIRE_BROWSER"))                                           \
      FAIL() << "chromium-headless-shell and libjs-three are required (scripts/setup.sh)"; \
    GTEST_SKIP() << "no headless Chromium or three.js here";                               \
  }

TEST(ReportInBrowser, EachViewShowsItsChartsPanelsAndNumbers) {
  FIND_BROWSER_OR_SKIP(browser);
  const auto root = test_support::fresh_temp_dir("browser_views");
  ReportFixture fixture(root);
  const auto report = root / "report";
  write_report(fixture.runs, report, fixture.options);

  // Benchmark (the first view): tables, two radars (vidprobe's metrics with the constant dashed;
  // the paper's with its published row dashed), eight bar charts of two runs and the constant.
  const std::vector<std::string> benchmark_selectors = {
      "#benchmark table",
      "#benchmark svg.radar",
      "#benchmark polygon.radar-series",
      "#benchmark polygon.radar-series[stroke-dasharray]",
      "#benchmark svg.bar-chart",
      "#benchmark rect.bar",
      "#benchmark rect.bar.constant",
      "#benchmark line.reference",
      "#sweeps svg",
      "#runs .depth-panel"};
  for (const std::string hash : {"", "benchmark"}) {
    const auto view = open_view(browser, report, hash, benchmark_selectors);
    if (view.found.empty()) continue;
    expect_shown(view, "#benchmark table", 2);
    expect_shown(view, "#benchmark svg.radar", 2);
    expect_shown(view, "#benchmark polygon.radar-series", 6);
    expect_shown(view, "#benchmark polygon.radar-series[stroke-dasharray]", 2);
    expect_shown(view, "#benchmark svg.bar-chart", 8);
    expect_shown(view, "#benchmark rect.bar", 24);
    expect_shown(view, "#benchmark rect.bar.constant", 8);
    expect_shown(view, "#benchmark line.reference", 8);  // the floor; no oracle, no ceiling
    expect_hidden(view, "#sweeps svg");
    expect_hidden(view, "#runs .depth-panel");
    EXPECT_GT(coloured_pixels_at(view, "#benchmark svg.radar"), 300) << "radar not drawn";
    EXPECT_GT(coloured_pixels_at(view, "#benchmark svg.bar-chart"), 1000) << "bars not drawn";
    EXPECT_GT(grey_spread(view.screenshot), 20) << "the benchmark screenshot is blank";
  }

  // Sweeps: a heat map and a layer plot per metric; 2 x 2 cells each, one best cell outlined.
  const auto sweeps =
      open_view(browser, report, "sweeps",
                {"#sweeps svg.heatmap", "#sweeps rect.cell", "#sweeps rect.cell.best",
                 "#sweeps svg.line-chart", "#sweeps polyline.line-series", "#benchmark table"});
  if (!sweeps.found.empty()) {
    expect_shown(sweeps, "#sweeps svg.heatmap", 8);
    expect_shown(sweeps, "#sweeps rect.cell", 32);
    expect_shown(sweeps, "#sweeps rect.cell.best", 8);
    expect_shown(sweeps, "#sweeps svg.line-chart", 8);
    expect_shown(sweeps, "#sweeps polyline.line-series", 16);
    expect_hidden(sweeps, "#benchmark table");
    EXPECT_GT(coloured_pixels_at(sweeps, "#sweeps svg.heatmap"), 2000) << "heat map not drawn";
    EXPECT_GT(grey_spread(sweeps.screenshot), 20) << "the sweep screenshot is blank";
  }

  // One run: its training curves, the link to its 3D view, and its depth panel with column
  // titles and three colour bars with numbers and units; the other run hidden.
  const std::string run = "#run-objects_wan_L20";
  const auto runs = open_view(
      browser, report, run.substr(1),
      {run + " svg.line-chart", run + " a[href^='viewer/']", run + " .depth-panel",
       run + " .depth-panel img", run + " svg.panel-titles text", run + " g.colour-bar",
       run + " text.tick", run + " text.unit", "#run-objects_pixels", "#benchmark table"});
  if (!runs.found.empty()) {
    expect_shown(runs, run + " svg.line-chart", 3);  // losses, validation, learning rate
    expect_shown(runs, run + " a[href^='viewer/']", 1);
    expect_shown(runs, run + " .depth-panel", 1);
    expect_shown(runs, run + " .depth-panel img", 1);
    EXPECT_EQ(runs.found.at(run + " .depth-panel img").loaded, 1) << "the panel did not load";
    expect_shown(runs, run + " svg.panel-titles text", 5);
    EXPECT_EQ(runs.found.at(run + " svg.panel-titles text").with_text, 5);
    EXPECT_EQ(runs.found.at(run + " g.colour-bar").count, 3);
    const auto& ticks = runs.found.at(run + " text.tick");
    EXPECT_GE(ticks.count, 6) << "at least two numbers per colour bar";
    EXPECT_EQ(ticks.visible, ticks.count);
    EXPECT_EQ(ticks.with_text, ticks.count);
    expect_shown(runs, run + " text.unit", 3);
    expect_hidden(runs, "#run-objects_pixels");
    expect_hidden(runs, "#benchmark table");
    EXPECT_GT(coloured_pixels_at(runs, run + " .depth-panel img"), 5000) << "panel not drawn";
    EXPECT_GT(grey_spread(runs.screenshot), 20) << "the run's screenshot is blank";
  }
  if (!HasFailure()) fs::remove_all(root);  // else kept: the screenshots and browser logs
}

TEST(ReportInBrowser, TheViewerLoadsWithoutErrorsAndDraws) {
  FIND_BROWSER_OR_SKIP(browser);
  const auto root = test_support::fresh_temp_dir("browser_viewer");
  ReportFixture fixture(root);
  write_report(fixture.runs, root / "report", fixture.options);
  const auto page = root / "report" / "viewer" / "objects_wan_L20_clip_7.html";
  ASSERT_TRUE(fs::exists(page)) << "viewer page missing";
  const auto log = browser.run("--screenshot='" + (root / "view.png").string() +
                                   "' --window-size=960,760 --virtual-time-budget=5000",
                               "file://" + page.string(), root / "viewer.log");
  expect_no_console_errors(log, page.string());
  EXPECT_THAT(log, HasSubstr("vidprobe viewer ready: 3000 points per cloud"));
  // The canvas (900 x 600 under a heading and the controls) shows the cloud: many pixels that are
  // neither the white background nor grey page text.
  const auto shot = read_png_u8(root / "view.png");
  int coloured = 0;
  for (int y = 120; y < std::min(shot.height, 700); ++y)
    for (int x = 10; x < std::min(shot.width, 900); ++x) coloured += chroma(shot, x, y) > 40;
  EXPECT_GT(coloured, 2000) << "the 3D view drew almost nothing";
  EXPECT_TRUE(fs::exists(root / "report" / "exports" / "objects_wan_L20_clip_7_cameras.ply"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace vidprobe::report
