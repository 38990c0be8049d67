#include "vidprobe/core/build_info_torch.h"

#include <torch/torch.h>

namespace vidprobe {

nlohmann::json build_info() {
  nlohmann::json info;
  info["vidprobe"] = VIDPROBE_VERSION;
  info["libtorch"] = TORCH_VERSION;
  info["threads"] = torch::get_num_threads();
  info["cuda_devices"] = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  return info;
}

}  // namespace vidprobe
