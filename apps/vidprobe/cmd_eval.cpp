// `vidprobe eval`: registered now so that --help shows the whole tool; filled by its issue.
#include "commands.h"
#include "vidprobe/core/error.h"

namespace vidprobe::cli {

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Evaluate a trained probe and write metrics.json, per-clip CSV and pictures");
  cmd->callback([] { throw Error("'vidprobe eval' is not implemented in this build yet"); });
}

}  // namespace vidprobe::cli
