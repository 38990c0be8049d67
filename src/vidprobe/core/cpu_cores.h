#pragma once
// How many CPU cores this process may use: what sizes the thread pools of the data loops.

namespace vidprobe {

// The CPUs this process may run on (its affinity mask: taskset, a Slurm task's or a container's
// CPU set), split evenly between `processes_on_node` processes of one job when the mask is the
// whole machine (torchrun starts every rank unbound). At least 1.
unsigned cores_for_this_process(int processes_on_node = 1);

}  // namespace vidprobe
