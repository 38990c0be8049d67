#pragma once
// The probe's trunk, VGGT's aggregator without the image backbone: cached backbone features are
// projected to the token width, a camera token and register tokens are prepended to every frame
// (the first frame gets its own camera/register tokens, which is how the model knows which frame
// defines the world frame), and K alternating blocks of frame attention (tokens of one frame)
// and global attention (the tokens of all frames of a clip) mix them. Positions: 2D RoPE over the
// h x w grid, the special tokens at (0, 0) and patch (i, j) at (i + 1, j + 1), as VGGT.
//
// With global_attention = false (the ablation) the second layer of each block also attends
// within a frame only, so nothing flows between frames and the parameter count is unchanged.
#include <torch/torch.h>

#include <vector>

#include "vidprobe/nn/alternating_attention.h"
#include "vidprobe/nn/linear.h"
#include "vidprobe/nn/transformer.h"
#include "vidprobe/probe/probe_config.h"

namespace vidprobe::probe {

struct AggregatorImpl : torch::nn::Module {
  AggregatorImpl(const ModelConfig& config, int64_t feature_dim);
  // features (B, S, C, h, w), any floating dtype.
  nn::AggregatorOutput forward(const torch::Tensor& features);

  ModelConfig config;
  int64_t feature_dim;
  torch::nn::LayerNorm input_norm{nullptr};
  vidprobe::nn::Linear input_proj{nullptr};
  torch::Tensor camera_token;    // (1, 2, 1, D): [first frame, other frames]
  torch::Tensor register_token;  // (1, 2, R, D)
  torch::nn::ModuleList frame_blocks, global_blocks;
};
TORCH_MODULE(Aggregator);

}  // namespace vidprobe::probe
