#pragma once
// Camera read-out (VGGT's CameraHead, "new trunk" variant): the camera tokens of the last block
// pass through a small transformer trunk that attends across the frames of a clip, modulated
// (adaLN: shift, scale, gate) by an embedding of the current pose estimate, and an MLP regresses
// the 9-number absT_quaR_FoV encoding. With several iterations each pass refines the previous
// (detached) estimate; all iterations are returned for the loss.
#include <torch/torch.h>

#include <vector>

#include "vidprobe/nn/head_config.h"
#include "vidprobe/nn/linear.h"
#include "vidprobe/nn/transformer.h"

namespace vidprobe::nn {

inline constexpr int64_t kPoseEncodingDim = 9;

struct CameraHeadImpl : torch::nn::Module {
  // dim_in: width of the aggregator's intermediates (2 D). attend_across_frames = false keeps
  // every frame's camera token on its own (the frame-attention-only ablation). The trunk blocks'
  // qk-norm, LayerScale and LayerNorm eps come from the config (VGGT: none, 0.01, 1e-5).
  // trunc_normal_init: ViT-style initialisation instead of the layers' own (PyTorch's).
  CameraHeadImpl(const CameraHeadConfig& config, int64_t dim_in, int64_t num_heads,
                 double mlp_ratio, bool attend_across_frames, bool trunc_normal_init);
  // camera_tokens (B, S, dim_in) -> one activated (B, S, 9) encoding per iteration.
  std::vector<torch::Tensor> forward(const torch::Tensor& camera_tokens);

  CameraHeadConfig config;
  bool attend_across_frames;
  torch::nn::LayerNorm token_norm{nullptr}, trunk_norm{nullptr}, adaln_norm{nullptr};
  torch::nn::ModuleList trunk;
  torch::Tensor empty_pose;  // (1, 1, 9): the "no estimate yet" input of the first iteration
  vidprobe::nn::Linear embed_pose{nullptr}, modulation{nullptr};
  Mlp pose_branch{nullptr};
};
TORCH_MODULE(CameraHead);

}  // namespace vidprobe::nn
