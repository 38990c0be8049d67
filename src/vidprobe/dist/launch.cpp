#include "vidprobe/dist/launch.h"

#include <cstdlib>

#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"

namespace vidprobe::dist {
namespace {

struct VariableNames {
  const char *rank, *world_size, *local_rank, *local_world_size;
};
constexpr VariableNames kTorchrun{"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"};
// The step's variables, set by srun only: a batch script itself (SLURM_NTASKS set, no srun) is
// one process, not rank 0 of the allocation.
constexpr VariableNames kSlurm{"SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID",
                               "SLURM_STEP_TASKS_PER_NODE"};

std::optional<int> read_int(const Environment& environment, const std::string& name) {
  const auto text = environment(name);
  if (!text || text->empty()) return std::nullopt;
  return parse_int(*text, "environment variable " + name);
}

// Slurm writes the tasks per node as "4" or "4(x2)" (4 tasks on each of 2 nodes).
std::optional<int> read_tasks_per_node(const Environment& environment, const std::string& name) {
  auto text = environment(name);
  if (!text || text->empty()) return std::nullopt;
  if (const auto paren = text->find('('); paren != std::string::npos) text->resize(paren);
  return parse_int(*text, "environment variable " + name);
}

Launch read_launch(const Environment& environment, const VariableNames& names,
                   const std::string& launcher) {
  Launch launch;
  launch.launcher = launcher;
  const auto rank = read_int(environment, names.rank);
  const auto world = read_int(environment, names.world_size);
  require(rank.has_value() == world.has_value(),
          std::string(rank ? names.rank : names.world_size) + " is set but " +
              (rank ? names.world_size : names.rank) + " is not; " + launcher +
              " sets both for every process");
  launch.world_size = *world;
  launch.rank = *rank;
  require(launch.world_size >= 1, std::string(names.world_size) + " must be at least 1; got " +
                                      std::to_string(launch.world_size));
  require(launch.rank >= 0 && launch.rank < launch.world_size,
          std::string(names.rank) + " must lie in 0.." + std::to_string(launch.world_size - 1) +
              " (" + names.world_size + " is " + std::to_string(launch.world_size) + "); got " +
              std::to_string(launch.rank));
  launch.local_rank = read_int(environment, names.local_rank).value_or(launch.rank);
  launch.local_world_size =
      (launcher == "slurm" ? read_tasks_per_node(environment, names.local_world_size)
                           : read_int(environment, names.local_world_size))
          .value_or(launch.world_size);
  require(launch.local_rank >= 0 && launch.local_rank < launch.local_world_size,
          std::string(names.local_rank) + " must lie in 0.." +
              std::to_string(launch.local_world_size - 1) + "; got " +
              std::to_string(launch.local_rank));
  return launch;
}

void read_rendezvous(const Environment& environment, Launch& launch) {
  if (!launch.distributed()) return;
  const auto addr = environment("MASTER_ADDR");
  require(addr && !addr->empty(),
          "MASTER_ADDR is not set: a job of " + std::to_string(launch.world_size) +
              " processes needs the host of rank 0 (torchrun sets it; under Slurm export it, e.g. "
              "the first host of scontrol show hostnames $SLURM_JOB_NODELIST)");
  launch.master_addr = *addr;
  const auto port = read_int(environment, "MASTER_PORT");
  require(port.has_value(), "MASTER_PORT is not set: a job of " +
                                std::to_string(launch.world_size) +
                                " processes needs the TCP port rank 0 listens on");
  require(*port >= 1 && *port <= 65535,
          "MASTER_PORT must lie in 1..65535; got " + std::to_string(*port));
  launch.master_port = *port;
}

}  // namespace

Environment process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Launch launch_from_environment(const Environment& environment) {
  Launch launch;
  if (environment("RANK") || environment("WORLD_SIZE")) {
    launch = read_launch(environment, kTorchrun, "torchrun");
    launch.agent_store = environment("TORCHELASTIC_USE_AGENT_STORE") == std::string("True");
  } else if (environment("SLURM_STEP_NUM_TASKS"))
    launch = read_launch(environment, kSlurm, "slurm");
  read_rendezvous(environment, launch);
  return launch;
}

}  // namespace vidprobe::dist
