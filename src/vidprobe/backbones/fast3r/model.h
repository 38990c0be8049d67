#pragma once
// Fast3R's encoder and decoder (facebookresearch/fast3r, fast3r/models/fast3r.py: CroCoEncoder,
// Fast3RDecoder) on the nn/ layers, with the official module names:
//
//  frames (S, 3, H, W), (x - 0.5) / 0.5 --encoder.patch_embed.proj (conv p x p)--> (S, h w, E)
//  --encoder.enc_blocks[i]: pre-norm blocks (LayerNorm eps 1e-6), 2D RoPE (base 100, split-halves
//  pairing) on q and k over each frame's (row, column) grid--> encoder.enc_norm = map 0;
//  the frames' tokens concatenated (1, S h w, E) --decoder.decoder_embed--> + the 1D sin-cos
//  embedding of each frame's image index --decoder.dec_blocks[i] (LayerNorm eps 1e-5, no RoPE,
//  optionally the inference attention scale)--> map i + 1; the last block's output through
//  decoder.dec_norm (eps 1e-6) replaces map depth.
//
// The prediction heads (downstream_head, downstream_head_local) are not built.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "vidprobe/backbones/fast3r/config.h"
#include "vidprobe/nn/linear.h"

namespace vidprobe::backbones::fast3r {

// The decoder's image-index table rows for `indices` (N) int64: get_1d_sincos_pos_embed_from_grid
// (embed_dim, arange(1000)) of croco's pos_embed.py, [sin | cos] halves with frequencies
// 10000^(-i / (dim / 2)), computed in float64 and returned in float32 as the official buffer is.
torch::Tensor image_index_embedding(const torch::Tensor& indices, int64_t dim);

// The official _get_random_image_pos draw for one clip: frame 0 -> 0, frames 1..S-1 ->
// torch.randperm(999, generator seeded `seed`)[:S - 1] + 1. (S) int64. S <= 1000.
torch::Tensor random_image_indices(int64_t frames, std::uint64_t seed);

struct EncoderImpl : torch::nn::Module {
  explicit EncoderImpl(const EncoderConfig& config);
  // images (S, 3, H, W) normalised -> (S, h * w, E) after enc_norm; grid = {h, w}.
  torch::Tensor forward(const torch::Tensor& images);

  EncoderConfig config;
  std::shared_ptr<torch::nn::Module> patch_embed;  // holds "proj"
  torch::nn::Conv2d proj{nullptr};
  torch::nn::ModuleList enc_blocks;
  torch::nn::LayerNorm enc_norm{nullptr};
};
TORCH_MODULE(Encoder);

struct DecoderImpl : torch::nn::Module {
  DecoderImpl(const DecoderConfig& config, int64_t encoder_dim);
  // tokens (1, S * P, E) of all frames, frame by frame; image_pos (S, D) float32, the image-index
  // embedding of each frame (added to each of its P tokens). Returns the maps 1..last_map (each
  // (1, S * P, D)); the last one through dec_norm when last_map == depth.
  std::vector<torch::Tensor> forward(const torch::Tensor& tokens, const torch::Tensor& image_pos,
                                     int last_map);

  DecoderConfig config;
  vidprobe::nn::Linear decoder_embed{nullptr};
  torch::nn::ModuleList dec_blocks;
  torch::nn::LayerNorm dec_norm{nullptr};
};
TORCH_MODULE(Decoder);

struct Fast3rImpl : torch::nn::Module {
  explicit Fast3rImpl(Fast3rConfig config);
  // images (S, 3, H, W) normalised as dust3r's ImgNorm; image_indices (S) int64 in 0..999.
  // Returns maps 0..last_map of the decoder's list, each (1, S * h * w, C).
  std::vector<torch::Tensor> forward(const torch::Tensor& images,
                                     const torch::Tensor& image_indices, int last_map);

  Fast3rConfig config;
  Encoder encoder{nullptr};
  Decoder decoder{nullptr};
};
TORCH_MODULE(Fast3r);

}  // namespace vidprobe::backbones::fast3r
