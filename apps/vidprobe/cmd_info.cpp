// `vidprobe info`: what this build can use (libtorch version, CUDA devices, threads).
#include <iostream>

#include "commands.h"
#include "vidprobe/core/build_info_torch.h"

namespace vidprobe::cli {

void register_info(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("info", "Print the build's versions and visible CUDA devices as JSON");
  cmd->callback([] { std::cout << build_info().dump(2) << "\n"; });
}

}  // namespace vidprobe::cli
