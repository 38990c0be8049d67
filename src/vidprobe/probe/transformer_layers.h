#pragma once
// Reusable pre-norm transformer layers in the DINOv2 / VGGT style: MLP, LayerScale, multi-head
// self-attention with optional per-head qk LayerNorm and 2D rotary position embedding, and the
// residual block that chains them. Shapes: tokens (B, N, D); positions (B, N, 2) int64 (y, x).
#include <torch/torch.h>

#include <optional>

namespace vidprobe::probe {

// Rotary embedding over a 2D grid (RoPE2D as in CroCo / VGGT): the first half of every head's
// channels rotates with the row index, the second half with the column index, each half with the
// classic 1D RoPE frequencies base^(-2i / half).
class Rope2d {
 public:
  explicit Rope2d(double base) : base_(base) {}
  // x (B, heads, N, head_dim), positions (B, N, 2). head_dim must be divisible by 4.
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& positions) const;

 private:
  torch::Tensor rotate_1d(const torch::Tensor& x, const torch::Tensor& position) const;
  double base_;
};

// Initialises Linear weights with a truncated normal (std 0.02, cut at 2 std) and zero biases,
// LayerNorm with ones and zeros: the ViT / VGGT initialisation.
void init_transformer_weights(torch::nn::Module& module);

struct MlpImpl : torch::nn::Module {
  MlpImpl(int64_t in_features, int64_t hidden_features, int64_t out_features);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

// Per-channel learned residual scale initialised small, so that fresh blocks start close to the
// identity (Touvron et al., CaiT). init_value 0 disables it.
struct LayerScaleImpl : torch::nn::Module {
  LayerScaleImpl(int64_t dim, double init_value);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor gamma;
};
TORCH_MODULE(LayerScale);

struct AttentionOptions {
  int64_t dim = 384;
  int64_t num_heads = 6;
  bool qk_norm = true;
  double rope_frequency = 100;  // 0 = no RoPE
};

struct AttentionImpl : torch::nn::Module {
  explicit AttentionImpl(const AttentionOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const std::optional<torch::Tensor>& positions);

  AttentionOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::LayerNorm q_norm{nullptr}, k_norm{nullptr};
  std::optional<Rope2d> rope;
};
TORCH_MODULE(Attention);

struct BlockOptions {
  AttentionOptions attention;
  double mlp_ratio = 4.0;
  double layer_scale_init = 0.01;
  // LayerNorm epsilon of norm1/norm2: 1e-6 in the probe (DINOv2's), 1e-5 in VGGT's aggregator and
  // camera trunk (torch's nn.LayerNorm default).
  double norm_eps = 1e-6;
};

// x + LS1(Attn(LN(x))), then x + LS2(MLP(LN(x))).
struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(const BlockOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const std::optional<torch::Tensor>& positions = {});

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  LayerScale ls1{nullptr}, ls2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

}  // namespace vidprobe::probe
