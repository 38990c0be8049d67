#pragma once
// The plain ViT encoder's hyper-parameters (nn/vit.h builds the module), without libtorch: the
// model configs that embed one (VGGT's patch embedding) are parsed in the fuzz build.

namespace vidprobe::nn {

struct ViTConfig {
  int image_size = 224;  // size the position embedding was trained at
  int patch_size = 14;
  int width = 384;
  int depth = 12;
  int heads = 6;
  double mlp_ratio = 4.0;
  int register_tokens = 0;
  double layer_scale_init = 1.0;
  double norm_eps = 1e-6;
  // Feed-forward: GELU MLP of width mlp_ratio * width, or (swiglu) SiLU-gated of width
  // round_up_8(2/3 * mlp_ratio * width) with the gate and value projections packed in one matrix.
  bool swiglu = false;
  // Resampling of the position embedding to another grid: bicubic, in float32; antialiased when
  // downsampling if set (transformers' Dinov2WithRegistersModel does, Dinov2Model does not).
  bool antialias_pos_interpolation = false;
  // LayerScale on both residual branches (DINOv2); VideoMAE and V-JEPA 2 have none.
  bool layer_scale = true;
};

}  // namespace vidprobe::nn
