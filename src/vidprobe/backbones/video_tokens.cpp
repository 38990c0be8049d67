#include "vidprobe/backbones/video_tokens.h"

#include "vidprobe/core/error.h"

namespace vidprobe::backbones {

FeatureMaps tubelet_tokens_to_frame_maps(const torch::Tensor& tokens, int64_t temporal, int64_t h,
                                         int64_t w, int tubelet) {
  require(tokens.dim() == 3 && tokens.size(0) == 1 && tokens.size(1) == temporal * h * w,
          "video tokens " + c10::str(tokens.sizes()) + " do not form a (1, " +
              std::to_string(temporal) + " x " + std::to_string(h) + " x " + std::to_string(w) +
              ", C) grid");
  const auto channels = tokens.size(2);
  auto maps = tokens[0].view({temporal, h, w, channels}).permute({0, 3, 1, 2});
  return {maps.repeat_interleave(tubelet, 0).contiguous(),
          {temporal, h, w},
          torch::arange(temporal, torch::kLong).repeat_interleave(tubelet)};
}

}  // namespace vidprobe::backbones
