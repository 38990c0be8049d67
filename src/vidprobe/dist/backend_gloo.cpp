// Gloo from libtorch. The wheel ships libtorch's Gloo but not Gloo's headers, so the declarations
// come from Debian's libgloo-dev. That is safe because this file only calls into libtorch: the
// classes it constructs (ProcessGroupGloo and its Options) hold Gloo objects only behind
// shared_ptr, so their layout does not depend on the Gloo version, and every Gloo object is made
// and used inside libtorch.
#include "vidprobe/core/error.h"
#include "vidprobe/dist/backends.h"

#ifdef VIDPROBE_HAVE_GLOO
#include <cstdlib>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

namespace vidprobe::dist::detail {

c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size,
                                                    std::chrono::milliseconds timeout) {
#ifdef VIDPROBE_HAVE_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // As torch.distributed: GLOO_SOCKET_IFNAME picks the network interface, else the host's name.
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  else
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
#else
  (void)store, (void)rank, (void)size, (void)timeout;
  throw Error(
      "this vidprobe build has no Gloo (Debian's libgloo-dev headers were not found when it was "
      "configured; scripts/setup.sh installs them): multi-process CPU runs need it");
#endif
}

}  // namespace vidprobe::dist::detail
