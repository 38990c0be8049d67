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

// The authors' V-JEPA extraction (VidFM3D features/vjepa, "spaced"): a clip of
// clips * (L - 1) + 1 frames becomes `clips` clips of L frames, clip i (0-based) holding frame 0
// then frames i + 1 + clips * k for k < L - 1 (76 frames, 5 clips: 16 frames each, every 5th).
// frame_index: the (clip, temporal token) map each frame reads, as clip * L / tubelet + token:
// frame f > 0 lies in clip (f - 1) mod clips at position (f - 1) / clips + 1; frame 0, in every
// clip, reads the first clip's first map, as their VideoProbeDataset does.
struct SpacedPartition {
  torch::Tensor frames;       // (clips, L) int64
  torch::Tensor frame_index;  // (clips * (L - 1) + 1) int64 into clips * L / tubelet maps
};
// Throws vidprobe::Error unless frames - 1 is a multiple of `clips` and L of `tubelet`.
SpacedPartition spaced_partition(int64_t frames, int clips, int tubelet);

}  // namespace vidprobe::backbones
