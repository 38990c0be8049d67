#pragma once
// Shapes of the read-out heads (nn/dpt_head.h, nn/camera_head.h) as plain values, so that the
// probe's configuration can hold them without including the heads.
#include <vector>

namespace vidprobe::nn {

struct DenseHeadConfig {
  int features = 256;                                   // fusion width of the DPT head
  std::vector<int> out_channels{256, 512, 1024, 1024};  // per level, before the fusion convs
  bool pos_embed = true;                                // sinusoidal UV embedding (VGGT's DPT)
  std::vector<int> layers =
      {};  // blocks feeding the 4 levels; empty = evenly spread, last included
  // The residual units' skip carries relu(x), as VGGT's and the authors' DPT (their ReLU is in
  // place); false = a plain x skip.
  bool relu_skip = true;
};

struct CameraHeadConfig {
  int trunk_depth = 4;
  int iterations = 4;  // iterative refinement passes
  bool qk_norm = false;
  double layer_scale_init = 0.01;  // of the trunk blocks; 0 = none
  double norm_eps = 1e-5;          // of the trunk blocks' LayerNorms
};

}  // namespace vidprobe::nn
