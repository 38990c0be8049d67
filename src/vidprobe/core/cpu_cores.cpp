#include "vidprobe/core/cpu_cores.h"

#include <sched.h>

#include <algorithm>
#include <thread>

namespace vidprobe {

unsigned cores_for_this_process(int processes_on_node) {
  const unsigned machine = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t mask;
  CPU_ZERO(&mask);
  const unsigned allowed = sched_getaffinity(0, sizeof mask, &mask) == 0
                               ? static_cast<unsigned>(std::max(1, CPU_COUNT(&mask)))
                               : machine;
  // A mask narrower than the machine was set for this process alone; a whole-machine mask is
  // shared by the job's processes on it.
  if (allowed < machine || processes_on_node <= 1) return allowed;
  return std::max(1u, allowed / static_cast<unsigned>(processes_on_node));
}

}  // namespace vidprobe
