#pragma once
// The spatial tiling of diffusers-style video VAEs (AutoencoderKLCogVideoX.tiled_encode /
// tiled_decode, Open-Sora's Hunyuan spatial_tiled_encode / spatial_tiled_decode): the input's
// last two dims are cut into overlapping tiles, each tile goes through the network alone (its
// GroupNorm statistics, and any attention, are the tile's), the above and left neighbours'
// outputs fade into each tile's first rows and columns, and each tile keeps its first rows and
// columns up to the next tile's start. One loop for every family, so the blend and crop rules
// exist once.
#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace vidprobe::nn {

// One spatial axis. Input units (pixels to encode, latents to decode): tiles `tile` long start
// every `stride`. Output units: `blend` leading entries of a tile fade in from the previous
// tile's last ones; a tile then keeps its first `keep` entries (the last tile whatever it has).
struct TileAxis {
  int64_t tile = 0, stride = 0, blend = 0, keep = 0;
};

// The axis of diffusers' tiled_encode / tiled_decode and of Open-Sora's spatial_tiled_encode /
// spatial_tiled_decode alike: input tiles `input_tile` long every (1 - overlap) of a tile, each
// giving `output_tile` outputs, blended over overlap x output_tile and kept up to output_tile less
// that blend (pixels in and latents out to encode, the reverse to decode).
TileAxis overlapping_tile_axis(int64_t input_tile, int64_t output_tile, double overlap);

struct SpatialTiling {
  TileAxis height, width;  // dims -2 and -1
};

// The first `extent` entries of b along `dim` (capped by both sizes) become a linear fade from
// the last `extent` ones of a (weight 1 - y / extent) to b's own (y / extent), in place; the
// reference blend_v (dim -2) / blend_h (dim -1).
void blend_tiles(const torch::Tensor& a, torch::Tensor& b, int64_t extent, int64_t dim);

// run_tile on every tile of x (..., H, W), row by row; each tile is blended with its above
// neighbour, then its left one, both already blended (the reference blends in place, so the
// fades chain), cropped to keep and stitched. Throws vidprobe::Error on a non-positive stride.
torch::Tensor tiled_spatial(const torch::Tensor& x, const SpatialTiling& tiling,
                            const std::function<torch::Tensor(const torch::Tensor&)>& run_tile);

}  // namespace vidprobe::nn
