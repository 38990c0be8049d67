// How many cores a process takes for its thread pools.
#include "vidprobe/core/cpu_cores.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace vidprobe {
namespace {

int cores_in_mask() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  EXPECT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
  return CPU_COUNT(&mask);
}

TEST(CpuCores, OneProcessHasItsWholeAffinityMask) {
  EXPECT_EQ(cores_for_this_process(), static_cast<unsigned>(cores_in_mask()));
  EXPECT_EQ(cores_for_this_process(0), static_cast<unsigned>(cores_in_mask()));
}

// torchrun starts its ranks with the whole machine's mask: they split it. A machine of one core
// still gives each at least one.
TEST(CpuCores, ProcessesOnAWholeMachineSplitIt) {
  const unsigned machine = std::thread::hardware_concurrency();
  if (machine == 0 || static_cast<unsigned>(cores_in_mask()) != machine)
    GTEST_SKIP() << "this process is bound to part of the machine";
  EXPECT_EQ(cores_for_this_process(2), std::max(1u, machine / 2));
  EXPECT_EQ(cores_for_this_process(static_cast<int>(machine) + 1), 1u);
}

// A mask narrower than the machine (taskset, a Slurm task's CPU set) was made for this process:
// it is not split again. The mask is the calling thread's, so a thread of its own is bound.
TEST(CpuCores, ANarrowerMaskIsThisProcesssAlone) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "a machine of one core";
  unsigned seen = 0;
  std::thread bound([&seen] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    if (sched_setaffinity(0, sizeof one, &one) == 0) seen = cores_for_this_process(8);
  });
  bound.join();
  EXPECT_EQ(seen, 1u);
}

}  // namespace
}  // namespace vidprobe
