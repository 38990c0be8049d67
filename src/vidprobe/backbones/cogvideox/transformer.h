#pragma once
// The CogVideoX 1.0 expert transformer (diffusers' CogVideoXTransformer3DModel, THUDM/CogVideo
// sat/dit_video_concat.py) on vidprobe's layer library, with access to every block's hidden
// states.
//
//  latents (B, F, C, H, W) --Conv2d patch p per latent frame--> video tokens (B, F*H/p*W/p, dim)
//  in (frame, row, column) order; text (B, L, 4096) --Linear--> text tokens (B, L, dim);
//  2B: + sin-cos position table over [text, video]; 5B-I2V: + learned table.
//  timestep --sinusoid [cos | sin]--> Linear, SiLU, Linear --> temb (B, time_embed_dim).
//  Each block ("expert" adaLN: separate modulation for the two streams, shared weights otherwise):
//    (v, t) -> LN(v) * (1 + scale) + shift, LN(t) * (1 + scale') + shift' from Linear(SiLU(temb));
//    joint attention over [t, v] (per-head LayerNorm on q and k; 5B: 3D RoPE on the video
//    tokens only); v += gate * attn_v, t += gate' * attn_t; the same with a GELU(tanh) MLP.
//
// Module names equal diffusers' except inside attention and the MLP (checkpoint.h maps them:
// attn1.{to_q,to_k,to_v} -> attn1.qkv, to_out.0 -> proj, norm_q/norm_k -> q_norm/k_norm,
// ff.net.0.proj / ff.net.2 -> ff.fc1 / ff.fc2), because those are nn::Attention and nn::Mlp.
#include <torch/torch.h>

#include <vector>

#include "vidprobe/backbones/cogvideox/config.h"
#include "vidprobe/nn/grid_key.h"
#include "vidprobe/nn/linear.h"
#include "vidprobe/nn/residual_norm.h"
#include "vidprobe/nn/rotary.h"
#include "vidprobe/nn/transformer.h"

namespace vidprobe::backbones::cogvideox {

// stream + gate * update in the stream's dtype, as diffusers adds a gated sublayer's output: the
// stream a kept layer and the prediction read, and the norms' libtorch path. (Where a norm takes
// the runtime kernel, the stream it hands on has the sum formed in float32 and rounded once.)
torch::Tensor settled_stream(const nn::ResidualUpdate& update);

// adaLN-zero of the two token streams (diffusers' CogVideoXLayerNormZero): one LayerNorm, and
// shift / scale / gate for the video and for the text stream from Linear(SiLU(temb)).
struct StreamModulationImpl : torch::nn::Module {
  StreamModulationImpl(int64_t conditioning_dim, int64_t dim, double eps);
  struct Modulated {
    // The modulated, normalised tokens as the joint sequence [text, video] the sublayer reads:
    // each stream's norm writes its own rows (diffusers normalises each, then concatenates).
    torch::Tensor joint;
    torch::Tensor video_gate, text_gate;      // (B, 1, dim) residual gates
    torch::Tensor video_stream, text_stream;  // the streams the norm read, updated
  };
  // Each stream first takes its pending update (stream + gate * update, the previous sublayer's
  // gated output), then the norm and modulation. On a GPU in bf16 the update, the norm with its
  // affine parameters folded into the modulation ((w x + b)(1 + scale) + shift as x w (1 + scale)
  // + b (1 + scale) + shift) and the cast are one pass of nn/residual_norm.h's kernel, each step
  // in float32 and rounded once; otherwise diffusers' operations in its order and dtype.
  Modulated forward(const nn::ResidualUpdate& video, const nn::ResidualUpdate& text,
                    const torch::Tensor& temb);
  vidprobe::nn::Linear linear{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  // The updated stream; its modulated norm written into `into`.
  torch::Tensor modulate(const nn::ResidualUpdate& update, const torch::Tensor& shift,
                         const torch::Tensor& scale, const torch::Tensor& into);
};
TORCH_MODULE(StreamModulation);

struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(const TransformerConfig& config);
  // Each stream with the block's gated feed-forward output still to be added: the next block's
  // first norm adds it in its own pass (StreamModulation), settled_stream where the stream itself
  // is read (a kept layer, the prediction).
  struct Streams {
    nn::ResidualUpdate video, text;
  };
  // rotary: angles over [text, video] (text unrotated), or none (2B).
  Streams forward(const nn::ResidualUpdate& video, const nn::ResidualUpdate& text,
                  const torch::Tensor& temb, const nn::RotaryAngles* rotary);
  // Declared in diffusers' module order, which is the registration order.
  StreamModulation norm1{nullptr};
  nn::Attention attn1{nullptr};
  StreamModulation norm2{nullptr};
  nn::Mlp ff{nullptr};
};
TORCH_MODULE(Block);

// The patch and text projections, plus the learned position table of 5B-I2V (a buffer).
struct PatchEmbedImpl : torch::nn::Module {
  explicit PatchEmbedImpl(const TransformerConfig& config);
  // text (B, L, text_embed_dim), latents (B, F, C, H, W) -> [text, video] tokens (B, L + N, dim)
  // with the absolute positions of 2B / 5B-I2V added.
  torch::Tensor forward(const torch::Tensor& text, const torch::Tensor& latents);
  TransformerConfig config;
  torch::nn::Conv2d proj{nullptr};
  vidprobe::nn::Linear text_proj{nullptr};
  torch::Tensor pos_embedding;  // (1, max_text + sample tokens, dim), learned_positions only
  void release_kept_table() { sincos_cache_.release(); }

 private:
  // The absolute positions of a grid in `tokens`' device and dtype. The sin-cos table (2B, and
  // 5B-I2V at another length than its trained one, as Aether's 41 frames) is made on the CPU in
  // float64, as diffusers makes it, and kept for the last grid. Made in every run, the GPU
  // finished its queue at the table's copy and then idled while the host made the next table:
  // Aether's transformer stage took 3.3-3.4 s a clip for 2.9 s of kernels (docs/perf.md).
  torch::Tensor positions(int64_t frames, int64_t rows, int64_t cols, const torch::Tensor& tokens);

  nn::KeptForGrid<torch::Tensor> sincos_cache_;
};
TORCH_MODULE(PatchEmbed);

// Linear, SiLU, Linear (diffusers' TimestepEmbedding).
struct TimeEmbeddingImpl : torch::nn::Module {
  TimeEmbeddingImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x) { return linear_2(torch::silu(linear_1(x))); }
  vidprobe::nn::Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(TimeEmbedding);

// LayerNorm, then shift and scale from Linear(SiLU(temb)) (diffusers' AdaLayerNorm, chunk_dim 1).
struct OutputNormImpl : torch::nn::Module {
  OutputNormImpl(int64_t conditioning_dim, int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb);
  vidprobe::nn::Linear linear{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(OutputNorm);

struct TransformerImpl : torch::nn::Module {
  explicit TransformerImpl(const TransformerConfig& config);

  struct Outputs {
    std::vector<torch::Tensor> video;  // per requested layer: (B, F*H'*W', dim)
    std::vector<torch::Tensor> text;   // per requested layer: (B, L, dim)
    std::vector<int64_t> grid;         // video token grid {F, H', W'}
    torch::Tensor prediction;          // (B, F, out_channels, H, W) when requested
  };
  // latents (B, F, in_channels, H, W), timesteps (B,), text (B, L, text_embed_dim). Runs the
  // blocks up to the deepest requested (0-based) layer only, unless with_prediction asks for the
  // whole model.
  Outputs run(const torch::Tensor& latents, const torch::Tensor& timesteps,
              const torch::Tensor& text, const std::vector<int>& layers,
              bool with_prediction = false);
  // The model's prediction (B, F, out_channels, H, W).
  torch::Tensor forward(const torch::Tensor& latents, const torch::Tensor& timesteps,
                        const torch::Tensor& text);
  // RoPE angles over [text tokens, video grid] (text unrotated), in float32 on device.
  nn::RotaryAngles rotary_angles(int64_t text_tokens, int64_t frames, int64_t rows, int64_t cols,
                                 torch::Device device) const;
  // Frees the position tables kept for the last grid (see prepared_rotary and
  // PatchEmbedImpl::positions), e.g. when the weights move to another device. Not thread-safe,
  // as run() is not: a transformer serves one thread.
  void release_kept_tables();

  TransformerConfig config;
  PatchEmbed patch_embed{nullptr};
  TimeEmbedding time_embedding{nullptr};
  torch::nn::ModuleList transformer_blocks{nullptr};
  torch::nn::LayerNorm norm_final{nullptr};
  OutputNorm norm_out{nullptr};
  vidprobe::nn::Linear proj_out{nullptr};

 private:
  void check_inputs(const torch::Tensor& latents, const torch::Tensor& timesteps,
                    const torch::Tensor& text) const;
  // rotary_angles in `dtype`, kept for the last grid asked: the positions are made on the CPU
  // (as the reference makes them) and copied once a grid instead of once a run.
  const nn::RotaryAngles& prepared_rotary(int64_t text_tokens, const std::vector<int64_t>& grid,
                                          torch::Device device, torch::ScalarType dtype);

  nn::KeptForGrid<nn::RotaryAngles> rotary_cache_;  // grid: text tokens, then the video grid
  torch::Tensor predict(const torch::Tensor& video, const torch::Tensor& temb,
                        const torch::Tensor& latents);
};
TORCH_MODULE(Transformer);

}  // namespace vidprobe::backbones::cogvideox
