#pragma once
// The multi-process job this command runs in (torchrun / srun environment, dist/launch.h), joined
// once per command at the CLI edge; a plain run is a job of one process and joins nothing.
#include <torch/torch.h>

#include "vidprobe/dist/group.h"

namespace vidprobe::cli {

// Joins the job. A CUDA device without an index becomes this rank's own GPU (LOCAL_RANK), as
// torchrun users expect; ranks other than 0 hide their progress bars (rank 0 speaks for the job).
dist::Group join_job(torch::Device& device);

}  // namespace vidprobe::cli
