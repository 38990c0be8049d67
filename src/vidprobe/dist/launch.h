#pragma once
// Where this process sits in a multi-process job, read from the environment exactly as torchrun
// and Slurm describe it, so that vidprobe is launched like any PyTorch program:
//   torchrun: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   srun:     SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID, SLURM_STEP_TASKS_PER_NODE
//             (MASTER_ADDR and MASTER_PORT exported by the batch script, as for any PyTorch job
//             under Slurm; a batch script run without srun is one process)
// torchrun's variables win when both are set (torchrun inside an allocation). Without either, the
// process is alone (world size 1) and no rendezvous happens.
#include <functional>
#include <optional>
#include <string>

namespace vidprobe::dist {

struct Launch {
  int rank = 0, world_size = 1;
  int local_rank = 0, local_world_size = 1;
  std::string master_addr;  // rendezvous host (rank 0 serves the TCP store)
  int master_port = 0;
  std::string launcher = "single";  // "single" | "torchrun" | "slurm"
  // torchrun's agent serves the rendezvous store itself (TORCHELASTIC_USE_AGENT_STORE=True).
  bool agent_store = false;

  // Joins a process group: every job of several processes, and torchrun's job of one (which sets
  // the rendezvous variables, so that one GPU runs the NCCL path as a larger job does). A single
  // srun task or a process without a launcher stays alone.
  bool distributed() const { return world_size > 1 || launcher == "torchrun"; }
};

// Reads a variable; std::nullopt when unset. The real one is std::getenv.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;
Environment process_environment();

// Throws vidprobe::Error naming the variable at fault: a rank outside 0..WORLD_SIZE-1, a world
// size without a rank (or the reverse), a port outside 1..65535, no MASTER_ADDR in a multi-process
// job, numbers that are not integers.
Launch launch_from_environment(const Environment& environment);

}  // namespace vidprobe::dist
