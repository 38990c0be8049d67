// `vidprobe report`: comparison table (Markdown/CSV/JSON) and an HTML page with charts.
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/report/report.h"

namespace vidprobe::cli {

void register_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Write the Markdown/HTML report with tables and plots");
  struct Args {
    std::vector<std::string> evals;
    std::string out = "report";
    std::string title = "vidprobe report";
    std::string notes_file;
    std::vector<std::string> sweeps;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--eval", args->evals,
                  "An evaluated run: [DATASET/LABEL=]DIR where DIR holds metrics.json from "
                  "`vidprobe eval` (repeat for every row)");
  cmd->add_option("--sweep", args->sweeps,
                  "A `vidprobe sweep` directory (sweep.json): heat maps and layer curves "
                  "(repeatable)");
  cmd->add_option("--out", args->out, "Output directory")->capture_default_str();
  cmd->add_option("--title", args->title, "Report title")->capture_default_str();
  cmd->add_option("--notes", args->notes_file, "Markdown file whose text goes under the title");
  cmd->callback([args] {
    std::vector<report::RunResult> runs;
    for (const auto& spec : args->evals) {
      const auto eq = spec.find('=');
      const std::filesystem::path dir = eq == std::string::npos ? spec : spec.substr(eq + 1);
      auto run = report::load_run(dir);
      if (eq != std::string::npos) {
        const auto name = spec.substr(0, eq);
        const auto slash = name.find('/');
        require(slash != std::string::npos,
                "--eval '" + spec + "': expected DATASET/LABEL=DIR before the '='");
        run.dataset = name.substr(0, slash);
        run.label = name.substr(slash + 1);
      }
      runs.push_back(std::move(run));
    }
    require(!runs.empty() || !args->sweeps.empty(), "report: give --eval or --sweep");
    report::ReportOptions options;
    options.title = args->title;
    options.sweeps.assign(args->sweeps.begin(), args->sweeps.end());
    if (!args->notes_file.empty()) options.notes_markdown = read_file(args->notes_file);
    report::write_report(runs, args->out, options);
    std::cout << report::markdown_table(runs, true);
    std::cerr << "report written to " << (std::filesystem::path(args->out) / "index.html").string()
              << "\n";
  });
}

}  // namespace vidprobe::cli
