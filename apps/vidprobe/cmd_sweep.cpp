// `vidprobe sweep`: registered now so that --help shows the whole tool; filled by its issue.
#include "commands.h"
#include "vidprobe/core/error.h"

namespace vidprobe::cli {

void register_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "Train and evaluate one probe per (layer, timestep) of a grid");
  cmd->callback([] { throw Error("'vidprobe sweep' is not implemented in this build yet"); });
}

}  // namespace vidprobe::cli
