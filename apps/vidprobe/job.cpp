#include "job.h"

#include "vidprobe/core/progress.h"

namespace vidprobe::cli {

dist::Group join_job(torch::Device& device) {
  const auto launch = dist::launch_from_environment(dist::process_environment());
  if (!launch.distributed()) return {};
  if (device.is_cuda() && !device.has_index())
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(launch.local_rank));
  if (launch.rank != 0) Progress::set_quiet(true);
  return dist::Group::join(launch, device);
}

}  // namespace vidprobe::cli
