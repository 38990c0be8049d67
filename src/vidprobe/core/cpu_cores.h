#pragma once
// How many CPU cores this process may use: what sizes the thread pools of the data loops.
#include <optional>
#include <string>

namespace vidprobe {

// What the system says about the CPUs this process can run on.
struct CpuView {
  int affinity = 1;  // CPUs in this process's affinity mask
  // CPUs of its container: the cgroup's cpuset, or the machine's online CPUs without one.
  int container = 1;
  // The cgroup's CPU-time quota in CPUs (cpu.max "400000 100000" = 4), rounded up; none: no quota.
  std::optional<int> quota;
};

// Reads the view of the calling thread's process (sched_getaffinity, /sys/fs/cgroup, /sys/devices).
CpuView read_cpu_view();

// The cores one of `processes_on_node` processes of a job takes: its affinity mask, split evenly
// between the job's processes when the mask is the whole container (torchrun starts every rank
// with it) and kept whole when narrower (a Slurm task's or a taskset's CPUs, bound per process);
// never more than the CPU quota allows the container, split the same way. At least 1.
int cores_for_process(const CpuView& view, int processes_on_node);

// cores_for_process(read_cpu_view(), processes_on_node).
int cores_for_this_process(int processes_on_node = 1);

// The CPUs in a Linux CPU list ("0-3,8,10-11" -> 7); nullopt for text that is not one.
std::optional<int> count_cpu_list(const std::string& text);

}  // namespace vidprobe
