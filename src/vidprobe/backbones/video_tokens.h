#pragma once
// Video backbones whose tokens cover several frames (a tubelet of 2 frames for VideoMAE and
// V-JEPA 2) still give one feature map per input frame, so that every frame of a clip has
// features aligned with its ground truth: each temporal token map is repeated for the frames it
// covers (frame t gets the map of temporal token t / tubelet). Every video family goes through
// this one mapping; docs/backbones.md states it.
#include <torch/torch.h>

#include "vidprobe/backbones/backbone.h"

namespace vidprobe::backbones {

// tokens (1, T' * h * w, C) in (t, y, x) order -> features (T' * tubelet, C, h, w) and
// native_grid {T', h, w}.
FeatureMaps tubelet_tokens_to_frame_maps(const torch::Tensor& tokens, int64_t temporal, int64_t h,
                                         int64_t w, int tubelet);

}  // namespace vidprobe::backbones
