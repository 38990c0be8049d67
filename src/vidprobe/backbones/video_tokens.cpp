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

SpacedPartition spaced_partition(int64_t frames, int clips, int tubelet) {
  require(clips > 0 && frames > 1 && (frames - 1) % clips == 0 &&
              ((frames - 1) / clips + 1) % tubelet == 0,
          [&] {
            return "a clip of " + std::to_string(frames) + " frames cannot be split into " +
                   std::to_string(clips) + " clips sharing frame 0 with a multiple of " +
                   std::to_string(tubelet) + " frames each";
          });
  const int64_t length = (frames - 1) / clips + 1, tokens = length / tubelet;
  auto index = torch::empty({clips, length}, torch::kInt64);
  for (int64_t c = 0; c < clips; ++c) {
    index[c][0] = 0;
    for (int64_t k = 0; k + 1 < length; ++k) index[c][k + 1] = c + 1 + clips * k;
  }
  auto frame_index = torch::empty({frames}, torch::kInt64);
  frame_index[0] = 0;
  for (int64_t f = 1; f < frames; ++f)
    frame_index[f] = (f - 1) % clips * tokens + ((f - 1) / clips + 1) / tubelet;
  return {index, frame_index};
}

}  // namespace vidprobe::backbones
