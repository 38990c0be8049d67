#pragma once
// WAN's 3D rotary position embedding. The head dimension d is split into a frame part of
// d - 4 * (d / 6) channels and a height and a width part of 2 * (d / 6) channels each; every part
// rotates consecutive channel pairs (2i, 2i + 1) by position * theta^(-2i / part) with theta =
// 10000, the position being the token's latent frame, row or column.
#include <torch/torch.h>

#include <cstdint>

namespace vidprobe::backbones::wan {

struct RopeSplit {
  int frames, height, width;  // channels per axis, summing to the head dim
};
RopeSplit rope_split(int head_dim);

struct RopeTables {
  // cos + i sin of each token's angles, complex64 (tokens, 1, head_dim / 2), tokens in (frame,
  // row, column) order
  torch::Tensor rotation;
};

// Tables for a grid of f x h x w tokens: the angles in float64 as the reference computes them,
// their cos and sin stored as float32. Throws vidprobe::Error when an axis exceeds max_positions
// (the reference's table size).
RopeTables rope_tables(int head_dim, int64_t f, int64_t h, int64_t w, int max_positions,
                       torch::Device device);

}  // namespace vidprobe::backbones::wan
