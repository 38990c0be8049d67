// `vidprobe report`: registered now so that --help shows the whole tool; filled by its issue.
#include "commands.h"
#include "vidprobe/core/error.h"

namespace vidprobe::cli {

void register_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Write the Markdown/HTML report with tables and plots");
  cmd->callback([] { throw Error("'vidprobe report' is not implemented in this build yet"); });
}

}  // namespace vidprobe::cli
