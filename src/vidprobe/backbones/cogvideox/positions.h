#pragma once
// Where the CogVideoX transformer gets token positions from: the 3D sin-cos table of 2B (added to
// the joint [text, video] embeddings, zeros over the text), the RoPE positions of 5B (the
// pipeline's resize-crop of the input grid onto the trained base grid), and the timestep sinusoid.
// Video tokens are ordered (frame, row, column).
#include <torch/torch.h>

#include <cstdint>

#include "vidprobe/backbones/cogvideox/config.h"

namespace vidprobe::backbones::cogvideox {

// (1, max_text_tokens + frames * rows * cols, dim) float32: zeros for the text slots, then per
// video token [time (dim/4) | column (3 dim/8) | row (3 dim/8)], each part [sin | cos] of
// position * 10000^(-k / half) with positions divided by the interpolation scales. (The column
// half comes first: diffusers' spatial grid is built columns first.) Computed in float64 from
// float32 grid positions, as diffusers does.
torch::Tensor sincos_position_table(const TransformerConfig& config, int64_t frames, int64_t rows,
                                    int64_t cols);

// The region of the base grid (sample_height / patch x sample_width / patch) that an input grid
// of rows x cols covers when resized to fit it and centred (diffusers'
// get_resize_crop_region_for_grid, rounding halves to even as Python does).
struct CropRegion {
  double top, left, bottom, right;
};
CropRegion rope_crop_region(const TransformerConfig& config, int64_t rows, int64_t cols);

// (frames * rows * cols, 3) float32 positions (frame, row, column) for the RoPE: frames 0..F-1
// times config.rope_time_scale (float32, as Aether's fps_factor);
// rows spaced from the region's top towards bottom * (rows - 1) / rows (likewise columns), as
// diffusers' linspace grid does.
torch::Tensor rope_positions(const TransformerConfig& config, int64_t frames, int64_t rows,
                             int64_t cols);

// (B,) timesteps -> (B, dim) float32 [cos | sin] of t * 10000^(-k / (dim / 2)), computed in
// float32 like diffusers' Timesteps(flip_sin_to_cos=True, freq_shift=0).
torch::Tensor timestep_sinusoid(const torch::Tensor& timesteps, int64_t dim);

}  // namespace vidprobe::backbones::cogvideox
