#pragma once
// The pre-norm transformer layers every network of vidprobe is built from (DINOv2's layout, which
// VGGT, VideoMAE, V-JEPA 2 and the probe share): MLP or packed SwiGLU feed-forward, LayerScale,
// multi-head self-attention with optional per-head qk LayerNorm and rotary positions, and the
// residual block chaining them. Module names follow DINOv2's (blocks.<i>.{norm1, attn.qkv,
// attn.q_norm, attn.k_norm, attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2 | mlp.w12, mlp.w3,
// ls2.gamma}) so that the reference checkpoints map onto them by name. Models differ only by the
// option values their presets set. Shapes: tokens (B, N, D).
#include <torch/torch.h>

#include <map>
#include <optional>
#include <vector>

#include "vidprobe/nn/gelu.h"
#include "vidprobe/nn/linear.h"
#include "vidprobe/nn/residual_norm.h"
#include "vidprobe/nn/rotary.h"
#include "vidprobe/nn/tensor_snapshot.h"

namespace vidprobe::nn {

// Linear weights N(0, 0.02) cut at 2 std with zero biases, LayerNorms ones and zeros: the ViT /
// VGGT training initialisation (instead of the layers' own PyTorch defaults).
void init_transformer_weights(torch::nn::Module& module);

// fc2(gelu(fc1(x))).
struct MlpImpl : torch::nn::Module {
  MlpImpl(int64_t in_features, int64_t hidden_features, int64_t out_features,
          Gelu gelu = Gelu::kExact);
  torch::Tensor forward(const torch::Tensor& x) { return fc2(hidden(x)); }
  // gelu(fc1(x)), fc2's input; Gelu::kTanh through linear_gelu_tanh (the GEMM's epilogue on a GPU)
  torch::Tensor hidden(const torch::Tensor& x);
  vidprobe::nn::Linear fc1{nullptr}, fc2{nullptr};
  Gelu gelu;
};
TORCH_MODULE(Mlp);

// SiLU-gated feed-forward with the gate and value projections packed in one matrix, w12 =
// [gate; value] (DINOv2 ViT-g).
struct SwiGluImpl : torch::nn::Module {
  SwiGluImpl(int64_t width, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x) { return w3(hidden(x)); }
  torch::Tensor hidden(const torch::Tensor& x);  // silu(gate) * value, w3's input
  vidprobe::nn::Linear w12{nullptr}, w3{nullptr};
};
TORCH_MODULE(SwiGlu);

// Learned per-channel residual scale (Touvron et al., CaiT); a small init keeps fresh blocks close
// to the identity.
struct LayerScaleImpl : torch::nn::Module {
  LayerScaleImpl(int64_t dim, double init_value);
  torch::Tensor forward(const torch::Tensor& x) { return x * gamma; }
  torch::Tensor gamma;
};
TORCH_MODULE(LayerScale);

// RMSNorm over the last dimension with a learned gain named "scale" (Flux / Open-Sora 2.0's
// QKNorm): statistics in float32, normalised values cast back to the input dtype before the gain.
// Head-wide rows on a GPU take nn/head_norm.h's runtime kernel (a result in x's order, values to
// float32 rounding) where head_rms_norm_uses_runtime_kernel says so.
struct RmsNormImpl : torch::nn::Module {
  RmsNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor scale;
  double eps;
};
TORCH_MODULE(RmsNorm);

struct AttentionOptions {
  int64_t dim = 384;
  int64_t num_heads = 6;
  bool qk_norm = false;       // LayerNorm over each head's queries and keys (VGGT, CogVideoX)
  double qk_norm_eps = 1e-5;  // 1e-5 in VGGT, 1e-6 in CogVideoX
  // Softmax scale of q k^T; unset = head_dim^-0.5. Fast3R's decoder lengthens it at inference
  // (head_dim^-0.5 sqrt(log 137 / log 20)) for sequences longer than it was trained on.
  std::optional<double> scale = std::nullopt;
  bool causal = false;  // token i attends to tokens 0..i only (CLIP's text transformer)
};

struct AttentionImpl : torch::nn::Module {
  explicit AttentionImpl(const AttentionOptions& options);
  // x (B, N, D); rotary: angles applied to queries and keys (after the qk norm), or none.
  torch::Tensor forward(const torch::Tensor& x, const RotaryAngles* rotary = nullptr) {
    return proj(mix(x, rotary));
  }
  // The heads' outputs side by side (B, N, D), proj's input.
  torch::Tensor mix(const torch::Tensor& x, const RotaryAngles* rotary = nullptr);

  AttentionOptions options;
  vidprobe::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::nn::LayerNorm q_norm{nullptr}, k_norm{nullptr};
};
TORCH_MODULE(Attention);

enum class FeedForward { kGeluMlp, kSwiGlu };

struct BlockOptions {
  AttentionOptions attention;
  double mlp_ratio = 4.0;
  FeedForward feed_forward = FeedForward::kGeluMlp;
  // LayerScale on both residual branches with this initial value; 0 = none (VideoMAE, V-JEPA 2).
  double layer_scale_init = 0.0;
  // Epsilon of norm1 / norm2: 1e-6 in DINOv2 and the vidprobe probe, 1e-5 (torch's default) in
  // VGGT's aggregator and camera trunk.
  double norm_eps = 1e-6;
  Gelu gelu = Gelu::kExact;  // of the GELU MLP
  // For frozen networks (the ViT backbones): while gradients are off, each LayerScale is folded
  // into the linear layer before it, gamma * (W h + b) = (gamma W) h + gamma b, so the residual
  // add is a plain vectorised add instead of a multiply-add whose broadcast gamma makes it a
  // strided kernel. The folded weight and bias are kept (one more copy of proj's and the
  // feed-forward's output weights) while W, b and gamma are unchanged. Off for trained networks
  // (the probe), whose weights change every step, and for float16 layers, where gamma W (gamma
  // starts at 1e-5 in DINOv2) would fall into float16's subnormal range.
  bool fold_layer_scale = false;
  // For frozen networks on a GPU: the attention branch's residual add (with its LayerScale) and
  // norm2 of the sum in one pass of nn/residual_norm.h's kernel where it applies (no gradient
  // recorded, a bf16 stream; see residual_norm_on_runtime_kernel), and with forward_pending the
  // feed-forward's with the next block's norm1: the stream is read and written once instead of by
  // the add and again by the LayerNorm. Elsewhere, and off, the add (or addcmul) and the
  // LayerNorm as before. A float32 block keeps libtorch's add and LayerNorm, as the reference
  // models run them: the kernel's float32 arithmetic (two-pass statistics where libtorch uses
  // Welford's, the affine step rounded apart) cost V-JEPA v1 its float32 bit-identity with the
  // official code (max relative 6.5e-7 where it was 0, 24801b0), for a gain measured in bf16.
  bool fuse_residual_norm = false;
};

// Hidden width of the feed-forward: mlp_ratio * dim for the GELU MLP; for SwiGLU two thirds of it
// rounded up to a multiple of 8 (per branch), which keeps the parameter count comparable.
int64_t feed_forward_width(const BlockOptions& options);

// x + LS1(Attn(LN(x))), then x + LS2(FF(LN(x))).
struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(const BlockOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const RotaryAngles* rotary = nullptr);
  // The same block on a stream whose last update (the block before's feed-forward) may still be
  // pending, handing on its own feed-forward update pending in turn, so that with
  // BlockOptions::fuse_residual_norm the next block's norm1 adds it in its pass as norm2 adds the
  // attention's. Without the kernel each update is added as forward adds it; settled(result) is
  // forward's result then, the stream a kept layer reads.
  ResidualUpdate forward_pending(const ResidualUpdate& x, const RotaryAngles* rotary = nullptr);
  // The stream with its pending update added as forward adds it (addcmul with the LayerScale, or a
  // plain sum where it is folded or absent).
  static torch::Tensor settled(const ResidualUpdate& x);

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  LayerScale ls1{nullptr}, ls2{nullptr};  // absent when layer_scale_init is 0
  Mlp mlp{nullptr};                       // registered as "mlp" for kGeluMlp
  SwiGlu swiglu{nullptr};                 // registered as "mlp" for kSwiGlu

  // A linear layer with the LayerScale after it folded in, and what it was made from.
  struct FoldedLinear {
    TensorSnapshot weight_source, bias_source, gamma_source;
    torch::Tensor weight, bias;
  };
  // The folded attention output projection (undefined until a forward pass folded it).
  const FoldedLinear& folded_attention_output() const { return folded_attention_output_; }

 private:
  // linear(x) with `scale` folded into its weight and bias, remade when they have changed.
  static torch::Tensor folded_linear(const torch::Tensor& x, const vidprobe::nn::Linear& linear,
                                     const LayerScale& scale, FoldedLinear& cache);
  torch::Tensor feed_forward(const torch::Tensor& x);
  // Whether this pass folds the LayerScales into the linear layers
  // (BlockOptions::fold_layer_scale).
  bool folds_layer_scale() const;
  // The stream with its update added, and `norm` of it: one pass of the residual-norm kernel where
  // BlockOptions::fuse_residual_norm and the kernel apply to a bf16 stream, settled and the
  // LayerNorm otherwise.
  NormedStream add_and_norm(const ResidualUpdate& branch, torch::nn::LayerNorm& norm);
  // A norm's weight or bias or a LayerScale's gamma in float32, as the residual-norm kernel reads
  // it: made once per version of the tensor, not on every call (a bf16 block's three conversions
  // per norm were small kernels of about 3 us each, a tenth of a ViT-L block at 16 x 256 tokens);
  // the tensor itself where it is float32 or its conversion would record a gradient.
  const torch::Tensor& kernel_vector(const torch::Tensor& tensor);
  struct Float32Copy {
    TensorSnapshot source;
    torch::Tensor value;
  };
  std::map<const c10::TensorImpl*, Float32Copy> kernel_vectors_;
  bool fold_layer_scale_ = false;
  bool fuse_residual_norm_ = false;
  FoldedLinear folded_attention_output_, folded_feed_forward_output_;
};
TORCH_MODULE(Block);

// Each of `layers` an index into `blocks`; the error names the first that is not, and the range.
// Callers check before their patch embedding, so that a bad layer costs no work.
void require_kept_layers(const torch::nn::ModuleList& blocks, const std::vector<int>& layers);

// The stream after each of `layers` (indices into `blocks`, a list of Block; checked by
// require_kept_layers), in the order of `layers`, running the blocks up to the deepest one asked
// for. Each block's feed-forward update goes on pending into the next block's norm1 and is settled
// only where a layer is kept (BlockImpl::forward_pending): the frozen encoders' loop (nn::ViT, the
// video ViT).
std::vector<torch::Tensor> kept_layer_streams(const torch::nn::ModuleList& blocks,
                                              const torch::Tensor& tokens,
                                              const std::vector<int>& layers,
                                              const RotaryAngles* rotary = nullptr);

}  // namespace vidprobe::nn
