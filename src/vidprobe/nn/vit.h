#pragma once
// A plain ViT encoder in DINOv2's layout (patch embedding, [CLS] + optional register tokens,
// learned position embedding interpolated to the input grid, pre-norm blocks with LayerScale).
// DINOv2, VGGT's patch embedding, the `random-vit` baseline and (its blocks) the video ViTs are
// built from it. Module names follow DINOv2's: patch_embed.proj, cls_token, register_tokens,
// pos_embed, blocks.<i>.{norm1,attn.qkv,attn.proj,ls1.gamma,norm2,mlp.fc1,mlp.fc2,ls2.gamma}, norm
// (with a SwiGLU feed-forward, as ViT-g: blocks.<i>.mlp.{w12,w3}).
#include <torch/torch.h>

#include <vector>

#include "vidprobe/nn/grid_key.h"
#include "vidprobe/nn/tensor_snapshot.h"
#include "vidprobe/nn/transformer.h"
#include "vidprobe/nn/vit_config.h"

namespace vidprobe::nn {

// Hidden width of the feed-forward block of `config` (per branch for SwiGLU).
int feed_forward_width(const ViTConfig& config);
// The options of one of the encoder's blocks.
BlockOptions block_options(const ViTConfig& config);

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
  // The resampled position embedding of one grid, kept while gradients are off (frozen-backbone
  // extraction) and pos_embed unchanged: the bicubic kernel runs ~2.4 ms per call on an H200 for
  // DINOv2-L's 37 x 37 table, a fifth of a 16-frame forward (docs/perf.md, kernel profile).
  struct PosEmbedCache {
    GridKey key;            // the patch grid, and pos_embed's device and dtype
    TensorSnapshot source;  // pos_embed when `value` was made
    torch::Tensor value;
  };
  torch::Tensor interpolated_pos_embed(int64_t grid_h, int64_t grid_w);
  torch::Tensor resample_pos_embed(int64_t grid_h, int64_t grid_w) const;
  ViTConfig config_;
  PosEmbedCache pos_embed_cache_;
};
TORCH_MODULE(ViT);

}  // namespace vidprobe::nn
