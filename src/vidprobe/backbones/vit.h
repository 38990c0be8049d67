#pragma once
// A plain ViT encoder in DINOv2's layout (patch embedding, [CLS] + optional register tokens,
// learned position embedding interpolated to the input grid, pre-norm blocks with LayerScale).
// Reused by the `random-vit` baseline now and by the DINOv2 family later, so that its module
// names follow DINOv2's: patch_embed.proj, cls_token, register_tokens, pos_embed,
// blocks.<i>.{norm1,attn.qkv,attn.proj,ls1.gamma,norm2,mlp.fc1,mlp.fc2,ls2.gamma}, norm
// (with a SwiGLU feed-forward, as ViT-g: blocks.<i>.mlp.{w12,w3}).
#include <torch/torch.h>

#include <vector>

namespace vidprobe::backbones {

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

// Hidden width of the feed-forward block of `config` (per branch for SwiGLU).
int feed_forward_width(const ViTConfig& config);

class LayerScaleImpl : public torch::nn::Module {
 public:
  LayerScaleImpl(int width, double init);
  torch::Tensor forward(const torch::Tensor& x) { return x * gamma; }
  torch::Tensor gamma;
};
TORCH_MODULE(LayerScale);

class ViTAttentionImpl : public torch::nn::Module {
 public:
  ViTAttentionImpl(int width, int heads);
  // x (B, N, D). rotary: empty, or (2, N, D / heads) = cos and sin of the rotary angles applied
  // to queries and keys (pairs (2i, 2i + 1) rotated; dims with angle 0 are left unchanged).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& rotary = {});
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  int heads;
};
TORCH_MODULE(ViTAttention);

class ViTMlpImpl : public torch::nn::Module {
 public:
  ViTMlpImpl(int width, int hidden);
  torch::Tensor forward(const torch::Tensor& x) { return fc2(torch::gelu(fc1(x))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(ViTMlp);

// SiLU-gated feed-forward with packed input projection: w12 = [gate; value].
class ViTSwiGLUImpl : public torch::nn::Module {
 public:
  ViTSwiGLUImpl(int width, int hidden);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear w12{nullptr}, w3{nullptr};
};
TORCH_MODULE(ViTSwiGLU);

class ViTBlockImpl : public torch::nn::Module {
 public:
  explicit ViTBlockImpl(const ViTConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& rotary = {});
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  ViTAttention attn{nullptr};
  ViTMlp mlp{nullptr};                    // registered as "mlp" unless config.swiglu
  ViTSwiGLU swiglu{nullptr};              // registered as "mlp" if config.swiglu
  LayerScale ls1{nullptr}, ls2{nullptr};  // absent unless config.layer_scale
};
TORCH_MODULE(ViTBlock);

class ViTImpl : public torch::nn::Module {
 public:
  explicit ViTImpl(ViTConfig config);

  // images (B, 3, H, W), normalised; H and W multiples of the patch size. Returns the patch
  // tokens after each requested block (0-based), each (B, D, H / p, W / p); with final_norm,
  // passed through the model's final LayerNorm first.
  std::vector<torch::Tensor> patch_features(const torch::Tensor& images,
                                            const std::vector<int>& layers,
                                            bool final_norm = false);
  const ViTConfig& config() const { return config_; }

  torch::nn::Conv2d patch_embed{nullptr};
  torch::Tensor cls_token, register_tokens, pos_embed;
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm norm{nullptr};

 private:
  torch::Tensor interpolated_pos_embed(int64_t grid_h, int64_t grid_w) const;
  ViTConfig config_;
};
TORCH_MODULE(ViT);

}  // namespace vidprobe::backbones
