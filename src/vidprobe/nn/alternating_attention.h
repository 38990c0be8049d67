#pragma once
// Pieces of VGGT's alternating-attention trunk shared by VGGT's aggregator and the probe's: a
// camera token and register tokens per frame where the first frame gets its own pair (which is how
// the trunk knows which frame defines the world frame), the 2D token positions of RoPE, and the
// per-block output that the heads read.
#include <torch/torch.h>

#include <vector>

#include "vidprobe/nn/rotary.h"

namespace vidprobe::nn {

struct AggregatorOutput {
  // One entry per block: concat(frame layer output, global layer output), (B, S, P, 2 D) where
  // P = patch_start + h * w.
  std::vector<torch::Tensor> intermediates;
  int64_t patch_start = 0;  // index of the first patch token (1 camera + registers)
};

// Expands a (1, 2, n, D) token pair to (B * S, n, D): entry 0 for frame 0, entry 1 for the rest.
torch::Tensor expand_first_and_rest(const torch::Tensor& pair, int64_t batch, int64_t frames);

// (B * S, patch_start + h * w, 2) int64 positions: special tokens at 0, patch (i, j) at (i+1, j+1).
torch::Tensor token_positions(int64_t batch_frames, int64_t patch_start, int64_t h, int64_t w,
                              torch::Device device);

// Where the tokens of a (B * S, P, D) trunk input come from: B clips of S frames, each frame's
// sequence = patch_start special tokens + an h x w patch grid.
struct TokenLayout {
  int64_t batch = 1, frames = 1, patch_start = 0, h = 0, w = 0;
};

struct AlternationOptions {
  int64_t num_heads = 16;
  double rope_frequency = 100;  // 2D RoPE base over the patch grid; 0 = no RoPE
  // false = the frame-attention-only ablation: the second layer of each block attends within a
  // frame too, so nothing flows between frames and the parameter count is unchanged.
  bool global_attention = true;
  int last_block = -1;  // run blocks 0..last_block; -1 = all
  // Blocks 0..checkpointed_blocks-1 keep only each layer's input for the backward pass and run
  // the layer again there (activation_checkpoint.h), as the authors' probe trunk with
  // gradient_checkpointing (all blocks); the later blocks keep their activations.
  int checkpointed_blocks = 0;
};

// Runs the alternating blocks (nn::Block each): frame layer i over every frame's tokens, then
// global layer i over all tokens of a clip, recording concat(frame, global) after each block.
AggregatorOutput run_alternating_blocks(torch::nn::ModuleList& frame_blocks,
                                        torch::nn::ModuleList& global_blocks, torch::Tensor tokens,
                                        const TokenLayout& layout,
                                        const AlternationOptions& options);

}  // namespace vidprobe::nn
