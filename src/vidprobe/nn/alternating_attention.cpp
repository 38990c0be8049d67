#include "vidprobe/nn/alternating_attention.h"

#include <optional>

#include "vidprobe/nn/activation_checkpoint.h"
#include "vidprobe/nn/transformer.h"

namespace vidprobe::nn {
namespace {

// One layer of the trunk, through activation checkpointing when asked. The angles are captured
// by value: the replay runs after this call's locals are gone.
torch::Tensor run_layer(const std::shared_ptr<torch::nn::Module>& module, const torch::Tensor& x,
                        const std::optional<RotaryAngles>& angles, bool checkpoint) {
  auto run = [block = std::dynamic_pointer_cast<BlockImpl>(module),
              angles](const torch::Tensor& input) {
    return block->forward(input, angles ? &*angles : nullptr);
  };
  return checkpoint ? checkpointed(run, x) : run(x);
}

}  // namespace

torch::Tensor expand_first_and_rest(const torch::Tensor& pair, int64_t batch, int64_t frames) {
  const auto first = pair.slice(1, 0, 1).expand({batch, 1, pair.size(2), pair.size(3)});
  const auto rest = pair.slice(1, 1, 2).expand({batch, frames - 1, pair.size(2), pair.size(3)});
  return torch::cat({first, rest}, 1).reshape({batch * frames, pair.size(2), pair.size(3)});
}

torch::Tensor token_positions(int64_t batch_frames, int64_t patch_start, int64_t h, int64_t w,
                              torch::Device device) {
  const auto options = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const auto ys = torch::arange(h, options).view({h, 1}).expand({h, w});
  const auto xs = torch::arange(w, options).view({1, w}).expand({h, w});
  const auto patches = torch::stack({ys, xs}, -1).reshape({h * w, 2}) + 1;
  const auto special = torch::zeros({patch_start, 2}, options);
  return torch::cat({special, patches}, 0)
      .unsqueeze(0)
      .expand({batch_frames, patch_start + h * w, 2});
}

AggregatorOutput run_alternating_blocks(torch::nn::ModuleList& frame_blocks,
                                        torch::nn::ModuleList& global_blocks, torch::Tensor tokens,
                                        const TokenLayout& layout,
                                        const AlternationOptions& options) {
  const int64_t B = layout.batch, S = layout.frames, P = tokens.size(1), D = tokens.size(2);
  const int last =
      options.last_block < 0 ? static_cast<int>(frame_blocks->size()) - 1 : options.last_block;
  // Computed once for all blocks. The angles depend only on a token's grid position, and a clip's
  // global sequence is its frames' sequences one after the other, so its angles are the frame
  // layers' regrouped.
  std::optional<RotaryAngles> frame_rope, global_rope;
  if (options.rope_frequency > 0) {
    const auto positions =
        token_positions(B * S, layout.patch_start, layout.h, layout.w, tokens.device());
    frame_rope = in_dtype(rope_2d(positions, D / options.num_heads, options.rope_frequency),
                          tokens.scalar_type());
    global_rope = regroup(*frame_rope, {B, 1, S * P, D / options.num_heads});
  }
  AggregatorOutput out;
  out.patch_start = layout.patch_start;
  for (int i = 0; i <= last; ++i) {
    const bool checkpoint = i < options.checkpointed_blocks;
    tokens = run_layer(frame_blocks[i], tokens.reshape({B * S, P, D}), frame_rope, checkpoint);
    const auto frame_out = tokens.view({B, S, P, D});
    tokens = options.global_attention ? run_layer(global_blocks[i], tokens.reshape({B, S * P, D}),
                                                  global_rope, checkpoint)
                                      : run_layer(global_blocks[i], tokens, frame_rope, checkpoint);
    out.intermediates.push_back(torch::cat({frame_out, tokens.view({B, S, P, D})}, -1));
  }
  return out;
}

}  // namespace vidprobe::nn
