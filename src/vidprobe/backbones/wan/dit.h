#pragma once
// The WAN2.1 diffusion transformer (Wan-Video/Wan2.1 wan/modules/model.py WanModel; diffusers
// WanTransformer3DModel), text-to-video variant, with access to every block's hidden states.
//
//  latents (B, 16, F, H, W) --Conv3d patch (1,2,2)--> tokens (B, F*H/2*W/2, dim) in (frame, row,
//  column) order; timestep t --sinusoid (cos | sin, float64)--> MLP --> temb --SiLU, Linear-->
//  6 modulation vectors; context (B, 512, 4096) --Linear, GELU(tanh), Linear--> (B, 512, dim).
//  Each block: x += gate * SelfAttn(LN(x) * (1 + scale) + shift) with RMSNorm on q and k and 3D
//  RoPE; x += CrossAttn(LN_affine(x), context); x += gate' * FFN(LN(x) * (1 + scale') + shift').
//
// Precision follows the reference's mixed-precision recipe: matmuls in the compute dtype
// (bf16 on GPU), the residual stream, norms, modulation and the timestep MLP in float32.
#include <torch/torch.h>

#include <vector>

#include "vidprobe/backbones/wan/checkpoint.h"
#include "vidprobe/backbones/wan/config.h"
#include "vidprobe/backbones/wan/rope.h"
#include "vidprobe/nn/grid_key.h"
#include "vidprobe/nn/residual_norm.h"

namespace vidprobe::backbones::wan {

class Transformer {
 public:
  // Parameters are allocated (uninitialised) on device in dtype; a meta device only counts.
  Transformer(DiTConfig config, torch::Device device, torch::Dtype dtype);

  const DiTConfig& config() const { return config_; }
  Parameters& parameters() { return params_; }
  const Parameters& parameters() const { return params_; }
  // Loads diffusers- or original-layout weights (see wan_checkpoint.h); source names the files.
  void load(TensorMap&& checkpoint, const std::string& source);

  // (B, L, text_dim) -> (B, L, dim) in the compute dtype. The same for every timestep and layer,
  // so a sweep embeds the context once.
  torch::Tensor embed_context(const torch::Tensor& text_context) const;

  struct Conditioning {
    torch::Tensor temb;        // (B, dim) float32
    torch::Tensor modulation;  // (B, 6, dim) float32
  };
  // timesteps (B,) in 0..1000, any dtype.
  Conditioning condition(const torch::Tensor& timesteps) const;

  struct Outputs {
    std::vector<torch::Tensor> blocks;  // per requested layer: (B, tokens, dim) float32
    torch::Tensor prediction;           // (B, out, F, H, W) float32 when requested
    std::vector<int64_t> grid;          // token grid {F', H', W'}
  };
  // latents (B, in_channels, F, H, W); embedded_context from embed_context(). Runs the blocks up
  // to the deepest requested layer only, unless with_prediction asks for the full model. A run
  // updates the rotary tables kept inside: one thread at a time per Transformer.
  Outputs run(const torch::Tensor& latents, const torch::Tensor& timesteps,
              const torch::Tensor& embedded_context, const std::vector<int>& layers,
              bool with_prediction = false) const;

  // The full model: the velocity prediction (B, out, F, H, W).
  torch::Tensor forward(const torch::Tensor& latents, const torch::Tensor& timesteps,
                        const torch::Tensor& text_context) const;

  // Frees the rotary tables kept for the last grid. Only memory: the tables are keyed by the
  // input's device, so a run after the weights moved makes new ones anyway.
  void release_kept_tables() { rope_cache_.release(); }

 private:
  // The rotation of the last token grid on the last input's device (cos and sin dropped: runs
  // read the complex form only). Its angles are made on the CPU in float64, as the reference makes
  // them, and copied over: a host computation and a copy that makes the host wait for the GPU's
  // queue, in every run before; every run of an extraction asks for the same grid.
  const RopeTables& kept_rope_tables(const std::vector<int64_t>& grid, torch::Device device) const;

  // Takes the stream with the previous block's FFN output and gate not yet added, and returns its
  // own stream and FFN update in the same form: the add happens in the next block's first norm,
  // in one pass with it (nn/residual_norm.h). Taken by value, so that the old stream is freed
  // once that norm has made the new one.
  nn::ResidualUpdate block(int index, nn::ResidualUpdate incoming, const torch::Tensor& modulation,
                           const torch::Tensor& context, const RopeTables& rope) const;
  torch::Tensor attention(const std::string& prefix, const torch::Tensor& x,
                          const torch::Tensor& context, const RopeTables* rope) const;
  torch::Tensor head(const torch::Tensor& x, const torch::Tensor& temb,
                     const std::vector<int64_t>& grid) const;

  DiTConfig config_;
  Parameters params_;
  mutable nn::KeptForGrid<RopeTables> rope_cache_;
};

// (B, tokens, dim) hidden states -> (B, F', dim, H', W') maps.
torch::Tensor tokens_to_maps(const torch::Tensor& tokens, const std::vector<int64_t>& grid);

// Floating-point operations (2 per multiply-add) of running `blocks` transformer blocks over
// `tokens` video tokens with `context_tokens` text tokens: projections, both attentions (scores
// and weighted sums) and the FFN; norms, RoPE and modulation are left out (< 1%).
double transformer_flops(const DiTConfig& config, int64_t tokens, int64_t context_tokens,
                         int blocks);

// The sinusoidal timestep embedding [cos | sin] of WAN (float64 angles, float32 result).
torch::Tensor timestep_sinusoid(const torch::Tensor& timesteps, int freq_dim);

}  // namespace vidprobe::backbones::wan
