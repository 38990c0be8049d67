// `vidprobe extract`: registered now so that --help shows the whole tool; filled by its issue.
#include "commands.h"
#include "vidprobe/core/error.h"

namespace vidprobe::cli {

void register_extract(CLI::App& app) {
  auto* cmd = app.add_subcommand("extract", "Extract frozen backbone features for every clip of a dataset into a cache");
  cmd->callback([] { throw Error("'vidprobe extract' is not implemented in this build yet"); });
}

}  // namespace vidprobe::cli
