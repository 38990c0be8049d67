#pragma once
// Open-Sora 2.0's MMDiT (opensora/models/mmdit, Flux's architecture) on vidprobe's layer library,
// with access to every block's hidden states. Module names equal the official ones, so
// Open_Sora_v2.safetensors loads by name, strictly.
//
//  latents (B, 16, T, H, W) --2x2 pack, channels (c, ph, pw)--> img_in; + cond_in(packed
//  [mask | masked latents]); txt (B, L, 4096) --> txt_in; vec = time_in(sinusoid(1000 t)) +
//  vector_in(CLIP pooled). Double-stream blocks: separate modulation / projections / MLPs for the
//  image and text tokens, joint attention over [txt, img]. Single-stream blocks over the joint
//  sequence: one projection to q, k and [v | MLP input], attention and MLP in parallel, one
//  output projection. Every attention: per-head RMSNorm on q and k, 3D RoPE (text tokens sit at
//  position 0 and stay unrotated).
#include <torch/torch.h>

#include <utility>
#include <vector>

#include "vidprobe/backbones/opensora/config.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/nn/linear.h"
#include "vidprobe/nn/residual_norm.h"
#include "vidprobe/nn/rotary.h"
#include "vidprobe/nn/transformer.h"

namespace vidprobe::backbones::opensora {

// Linear, SiLU, Linear (in_layer, out_layer).
struct MlpEmbedderImpl : torch::nn::Module {
  MlpEmbedderImpl(int64_t in, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x) { return out_layer(torch::silu(in_layer(x))); }
  vidprobe::nn::Linear in_layer{nullptr}, out_layer{nullptr};
};
TORCH_MODULE(MlpEmbedder);

// lin(SiLU(vec)) split into 3 (shift, scale, gate) or 6 (two such triples) chunks of (B, 1, D).
struct ModulationImpl : torch::nn::Module {
  ModulationImpl(int64_t dim, bool double_stream);
  std::vector<torch::Tensor> forward(const torch::Tensor& vec);
  vidprobe::nn::Linear lin{nullptr};
  int64_t chunks;
};
TORCH_MODULE(Modulation);

struct QkNormImpl : torch::nn::Module {
  explicit QkNormImpl(int64_t head_dim);
  nn::RmsNorm query_norm{nullptr}, key_norm{nullptr};
};
TORCH_MODULE(QkNorm);

// One stream's attention projections of a double-stream block.
struct StreamAttentionImpl : torch::nn::Module {
  StreamAttentionImpl(int64_t dim, bool qkv_bias, int64_t head_dim);
  vidprobe::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr};
  QkNorm norm{nullptr};
  vidprobe::nn::Linear proj{nullptr};
};
TORCH_MODULE(StreamAttention);

struct DoubleStreamBlockImpl : torch::nn::Module {
  explicit DoubleStreamBlockImpl(const MmditConfig& config);
  // Each stream with its last update (the gated MLP output) still to add: the next block's first
  // norm adds it in the same pass (nn/residual_norm.h); nn::updated_stream settles it where the
  // stream itself is wanted.
  struct Streams {
    nn::ResidualUpdate img, txt;
  };
  Streams forward(nn::ResidualUpdate img, nn::ResidualUpdate txt, const torch::Tensor& vec,
                  const nn::RotaryAngles& rotary);
  int64_t heads;
  Modulation img_mod{nullptr};
  StreamAttention img_attn{nullptr};
  torch::nn::Sequential img_mlp{nullptr};
  Modulation txt_mod{nullptr};
  StreamAttention txt_attn{nullptr};
  torch::nn::Sequential txt_mlp{nullptr};
};
TORCH_MODULE(DoubleStreamBlock);

struct SingleStreamBlockImpl : torch::nn::Module {
  explicit SingleStreamBlockImpl(const MmditConfig& config);
  // x: the joint sequence [txt, img] (B, L + N, D), with an update still to add, as it returns it.
  nn::ResidualUpdate forward(nn::ResidualUpdate x, const torch::Tensor& vec,
                             const nn::RotaryAngles& rotary);
  // v (B, L + N, D) and the MLP's GELU-activated hidden values, both from v_mlp.
  std::pair<torch::Tensor, torch::Tensor> value_and_mlp(const torch::Tensor& x);
  int64_t heads, hidden, mlp_hidden;
  vidprobe::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_mlp{nullptr}, linear2{nullptr};
  QkNorm norm{nullptr};
  Modulation modulation{nullptr};
};
TORCH_MODULE(SingleStreamBlock);

struct LastLayerImpl : torch::nn::Module {
  LastLayerImpl(int64_t dim, int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& vec);
  vidprobe::nn::Linear linear{nullptr};
  torch::nn::Sequential adaLN_modulation{nullptr};
};
TORCH_MODULE(LastLayer);

// (B, C, T, H, W) -> (B, T*H/p*W/p, C*p*p), tokens in (t, row, column) order, channels (c, ph, pw).
torch::Tensor pack_latents(const torch::Tensor& latents, int64_t patch);
// The (t, row, column) RoPE positions of a packed grid, (B, T*h*w, 3) float32.
torch::Tensor image_positions(int64_t batch, int64_t frames, int64_t rows, int64_t cols,
                              torch::Device device);
// Sinusoid [cos | sin] of 1000 t (scaled in t's dtype) over `dim` channels (max period 10000),
// float32 (B, dim).
torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim);

struct MmditInputs {
  torch::Tensor latents;    // (B, C, T, H, W) noisy latents
  torch::Tensor cond;       // (B, C + 1, T, H, W) [mask | masked latents]; cond_embed models
  torch::Tensor txt;        // (B, L, context_in_dim) T5 hidden states
  torch::Tensor y_vec;      // (B, vec_in_dim) CLIP pooled vector
  torch::Tensor timesteps;  // (B,) in [0, 1], as the model is given them (already shifted)
};

struct MmditImpl : torch::nn::Module {
  explicit MmditImpl(const MmditConfig& config);

  struct Outputs {
    // Per requested layer: the image tokens (B, N, D) and the text tokens (B, L, D) after it.
    // Layers 0 .. depth - 1 are double_blocks, depth .. depth + depth_single_blocks - 1 the
    // single_blocks (layer depth + i = single_blocks[i]).
    std::vector<torch::Tensor> img, txt;
    std::vector<int64_t> grid;  // image token grid {T, H/p, W/p}
    torch::Tensor prediction;   // (B, N, p*p*C) when requested
  };
  // Runs up to the deepest requested layer only, unless with_prediction asks for the whole model.
  Outputs run(const MmditInputs& inputs, const std::vector<int>& layers,
              bool with_prediction = false);
  torch::Tensor forward(const MmditInputs& inputs);
  nn::RotaryAngles rotary_angles(int64_t batch, int64_t text_tokens,
                                 const std::vector<int64_t>& grid, torch::Device device) const;

  MmditConfig config;
  vidprobe::nn::Linear img_in{nullptr};
  MlpEmbedder time_in{nullptr}, vector_in{nullptr};
  vidprobe::nn::Linear cond_in{nullptr}, txt_in{nullptr};
  torch::nn::ModuleList double_blocks{nullptr}, single_blocks{nullptr};
  LastLayer final_layer{nullptr};

 private:
  void check_inputs(const MmditInputs& inputs) const;
};
TORCH_MODULE(Mmdit);

// Loads an Open_Sora_v2.safetensors-layout checkpoint strictly: every key of mmdit_layout with its
// shape and nothing else (vidprobe::Error naming source and the offending keys otherwise).
void load_mmdit(Mmdit& model, const TensorMap& checkpoint, const std::string& source);

}  // namespace vidprobe::backbones::opensora
