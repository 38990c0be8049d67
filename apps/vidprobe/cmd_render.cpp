// `vidprobe render`: registered now so that --help shows the whole tool; filled by its issue.
#include "commands.h"
#include "vidprobe/core/error.h"

namespace vidprobe::cli {

void register_render(CLI::App& app) {
  auto* cmd = app.add_subcommand("render", "Render synthetic multi-view clips with exact depth, masks and cameras");
  cmd->callback([] { throw Error("'vidprobe render' is not implemented in this build yet"); });
}

}  // namespace vidprobe::cli
