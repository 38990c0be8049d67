// How many cores a process takes for its thread pools.
#include "vidprobe/core/cpu_cores.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace vidprobe {
namespace {

TEST(CpuCores, OneProcessTakesItsWholeMask) {
  EXPECT_EQ(cores_for_process({.affinity = 16, .container = 16, .quota = std::nullopt}, 1), 16);
  EXPECT_EQ(cores_for_process({.affinity = 6, .container = 16, .quota = std::nullopt}, 1), 6);
  EXPECT_EQ(cores_for_process({.affinity = 16, .container = 16, .quota = std::nullopt}, 0), 16);
}

// torchrun starts its ranks with the whole machine's (or container's) mask: they split it.
TEST(CpuCores, ProcessesSharingTheContainersMaskSplitIt) {
  EXPECT_EQ(cores_for_process({.affinity = 128, .container = 128, .quota = std::nullopt}, 8), 16);
  EXPECT_EQ(cores_for_process({.affinity = 32, .container = 32, .quota = std::nullopt}, 4),
            8);  // a cpuset container
  EXPECT_EQ(cores_for_process({.affinity = 2, .container = 2, .quota = std::nullopt}, 4),
            1);  // never below one
}

// A mask narrower than the container was made for the process (srun --cpu-bind, taskset).
TEST(CpuCores, ANarrowerMaskIsKeptWhole) {
  EXPECT_EQ(cores_for_process({.affinity = 16, .container = 128, .quota = std::nullopt}, 8), 16);
}

// docker --cpus=4 on a large host: the quota, not the mask, bounds the pool.
TEST(CpuCores, TheQuotaBoundsTheCores) {
  EXPECT_EQ(cores_for_process({.affinity = 128, .container = 128, .quota = 4}, 1), 4);
  EXPECT_EQ(cores_for_process({.affinity = 128, .container = 128, .quota = 4}, 2), 2);
  EXPECT_EQ(cores_for_process({.affinity = 2, .container = 2, .quota = 64}, 1), 2);
  EXPECT_EQ(cores_for_process({.affinity = 8, .container = 8, .quota = 1}, 4), 1);
}

TEST(CpuCores, CountsLinuxCpuLists) {
  EXPECT_EQ(count_cpu_list("0-3,8,10-11"), 7);
  EXPECT_EQ(count_cpu_list("5"), 1);
  EXPECT_EQ(count_cpu_list("0-127"), 128);
  EXPECT_EQ(count_cpu_list(""), std::nullopt);
  EXPECT_EQ(count_cpu_list("3-1"), std::nullopt);
  EXPECT_EQ(count_cpu_list("0-x"), std::nullopt);
  EXPECT_EQ(count_cpu_list("1,,2"), std::nullopt);
}

// The mask read is the calling thread's: a thread bound to one CPU of the process's mask sees 1.
TEST(CpuCores, ReadsTheAffinityMask) {
  const auto view = read_cpu_view();
  EXPECT_GE(view.affinity, 1);
  EXPECT_LE(view.affinity, view.container);
  cpu_set_t mask;
  CPU_ZERO(&mask);
  ASSERT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
  int first = 0;
  while (first < CPU_SETSIZE && !CPU_ISSET(first, &mask)) ++first;
  ASSERT_LT(first, CPU_SETSIZE);
  int seen = 0;
  std::thread bound([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof one, &one) == 0) seen = read_cpu_view().affinity;
  });
  bound.join();
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace vidprobe
