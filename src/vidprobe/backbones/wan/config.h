#pragma once
// Architecture constants of WAN2.1 text-to-video (Wan-Video/Wan2.1, wan/configs/*.py and
// wan/modules/{model,vae,t5}.py; diffusers' WanTransformer3DModel / AutoencoderKLWan and
// transformers' UMT5EncoderModel use the same numbers under other names).
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vidprobe::backbones::wan {

// The text encoder's context length: prompts are padded with zero vectors up to it.
inline constexpr int kTextLength = 512;
// The flow-matching training schedule has 1000 timesteps; sigma = timestep / 1000.
inline constexpr int kNumTrainTimesteps = 1000;
// The VAE compresses 4x in time (first frame alone) and 8x in space.
inline constexpr int kVaeTemporalStride = 4;
inline constexpr int kVaeSpatialStride = 8;

// The diffusion transformer (DiT).
struct DiTConfig {
  int in_channels = 16;
  int out_channels = 16;
  int dim = 1536;  // hidden width
  int ffn_dim = 8960;
  int heads = 12;
  int layers = 30;
  int freq_dim = 256;                 // sinusoidal timestep embedding size
  int text_dim = 4096;                // umT5-XXL width
  std::array<int, 3> patch{1, 2, 2};  // (t, h, w)
  double eps = 1e-6;
  bool cross_attn_norm = true;
  int rope_max_seq_len = 1024;  // positions per axis with a rotary table

  int head_dim() const { return dim / heads; }
  // Throws vidprobe::Error naming the field when the numbers cannot form a model.
  void validate(const std::string& source) const;
};

DiTConfig t2v_1_3b_dit();  // dim 1536, 30 blocks, 12 heads, ffn 8960
DiTConfig t2v_14b_dit();   // dim 5120, 40 blocks, 40 heads, ffn 13824

// From a diffusers transformer/config.json (num_attention_heads, attention_head_dim, ...) or an
// original Wan-Video config.json (dim, num_heads, in_dim, ...); source names the file in errors.
DiTConfig dit_config_from_json(const nlohmann::json& config, const std::string& source);

// The VAE (encoder for features; the decoder for `vidprobe check` and sampling).
struct VaeConfig {
  int in_channels = 3;
  int out_channels = 3;  // the decoder's
  int base_dim = 96;
  int decoder_base_dim = 0;  // 0: base_dim (diffusers' decoder_base_dim = None)
  int z_dim = 16;
  std::vector<int> dim_mult{1, 2, 4, 4};
  int num_res_blocks = 2;
  std::vector<bool> temporal_downsample{false, true, true};
  // Published per-channel statistics of the latents; the pipeline feeds (z - mean) / std.
  std::vector<double> latents_mean{-0.7571, -0.7089, -0.9113, 0.1075,  -0.1745, 0.9653,
                                   -0.1517, 1.5508,  0.4134,  -0.0715, 0.5517,  -0.3632,
                                   -0.1922, -0.9497, 0.2503,  -0.2921};
  std::vector<double> latents_std{2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                                  3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160};

  int decoder_dim() const { return decoder_base_dim > 0 ? decoder_base_dim : base_dim; }
  void validate(const std::string& source) const;
};

// From a diffusers vae/config.json (base_dim, z_dim, dim_mult, temperal_downsample, ...).
VaeConfig vae_config_from_json(const nlohmann::json& config, const std::string& source);

// The umT5-XXL encoder that turns the prompt into the context.
struct UMT5Config {
  int vocab_size = 256384;
  int d_model = 4096;
  int d_kv = 64;
  int heads = 64;
  int d_ff = 10240;
  int layers = 24;
  int relative_buckets = 32;
  int relative_max_distance = 128;
  double eps = 1e-6;
  // T5 v1.1 (transformers T5EncoderModel, CogVideoX's text encoder): one relative-position bias
  // table, in layer 0, used by every layer; umT5 has one per layer.
  bool shared_position_bias = false;

  void validate(const std::string& source) const;
};

// From a transformers text_encoder/config.json (d_model, num_heads, relative_attention_*, ...);
// model_type "t5" (T5 v1.1) shares layer 0's position bias, "umt5" (or none) does not.
UMT5Config umt5_config_from_json(const nlohmann::json& config, const std::string& source);

}  // namespace vidprobe::backbones::wan
