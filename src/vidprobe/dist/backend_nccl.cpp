// NCCL from libtorch_cuda, compiled when the torch wheel's nvidia-nccl headers were found at
// configure time (VIDPROBE_HAVE_NCCL); CPU-only builds get a clear error instead.
#include "vidprobe/core/error.h"
#include "vidprobe/dist/backends.h"

#ifdef VIDPROBE_HAVE_NCCL
#include <c10/cuda/CUDAFunctions.h>

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace vidprobe::dist::detail {

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size, int device_index,
                                                    std::chrono::milliseconds timeout) {
#ifdef VIDPROBE_HAVE_NCCL
  // NCCL binds its communicator to the current device: each rank's own GPU (LOCAL_RANK).
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(device_index));
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
#else
  (void)store, (void)rank, (void)size, (void)device_index, (void)timeout;
  throw Error(
      "this vidprobe build has no NCCL (the torch wheel's nvidia-nccl headers were not found "
      "when it was configured): multi-process CUDA runs need it; CPU runs use Gloo");
#endif
}

}  // namespace vidprobe::dist::detail
