// `vidprobe bench probe`: wired to the probe module's benchmark once it lands.
#include "commands.h"
#include "vidprobe/core/error.h"

namespace vidprobe::cli {

void register_bench_probe(CLI::App& bench) {
  auto* probe = bench.add_subcommand("probe", "Probe training steps/s for the default configuration");
  probe->callback([] { throw Error("'vidprobe bench probe' is not implemented in this build yet"); });
}

}  // namespace vidprobe::cli
