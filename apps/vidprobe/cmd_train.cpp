// `vidprobe train`: registered now so that --help shows the whole tool; filled by its issue.
#include "commands.h"
#include "vidprobe/core/error.h"

namespace vidprobe::cli {

void register_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a shallow transformer probe on cached features");
  cmd->callback([] { throw Error("'vidprobe train' is not implemented in this build yet"); });
}

}  // namespace vidprobe::cli
