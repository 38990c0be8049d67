#pragma once
// Architecture constants of Open-Sora 2.0 (hpcaitech/Open-Sora v2.0): the MMDiT of
// configs/diffusion/inference/256px.py (model type "flux": 19 double-stream + 38 single-stream
// blocks, QK RMSNorm, 3D RoPE over (t, h, w) rotated as the Liger kernel does, 2x2 patches of the
// VAE's 16-channel latents, the image-condition channels through cond_in) and the size table.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/backbones/shape_map.h"

namespace vidprobe::backbones::opensora {

// Field names follow the official MMDiTConfig. Only the published layout is implemented:
// fused_qkv = false (separate q_proj / k_proj / v_proj, v_mlp), guidance_embed = false.
struct MmditConfig {
  int in_channels = 64;       // latent channels x patch_size^2 (16 x 2 x 2)
  int vec_in_dim = 768;       // CLIP-L pooled text vector
  int context_in_dim = 4096;  // T5-XXL hidden states
  int hidden_size = 3072;
  double mlp_ratio = 4.0;
  int num_heads = 24;
  int depth = 19;                             // double-stream blocks
  int depth_single_blocks = 38;               // single-stream blocks
  std::vector<int64_t> axes_dim{16, 56, 56};  // RoPE channels (of a head) per t, h, w axis
  double theta = 10000.0;
  bool qkv_bias = true;
  bool cond_embed = true;  // cond_in: (latent channels + 1 mask channel) x patch_size^2 inputs
  int patch_size = 2;

  int head_dim() const { return hidden_size / num_heads; }
  int mlp_hidden() const { return static_cast<int>(hidden_size * mlp_ratio); }
  int latent_channels() const { return in_channels / (patch_size * patch_size); }
  int cond_channels() const { return in_channels + patch_size * patch_size; }
  int blocks() const { return depth + depth_single_blocks; }
  // Throws vidprobe::Error naming the field when the numbers cannot form a model.
  void validate(const std::string& source) const;
};

struct MmditSize {
  std::string name;  // opensora-v2
  MmditConfig config;
  std::string description;
};
const std::vector<MmditSize>& mmdit_sizes();
const MmditConfig& mmdit_config(const std::string& name);

// From a JSON object with the official MMDiTConfig field names (a model config's `model` dict);
// refuses fused_qkv = true and guidance_embed = true, naming source.
MmditConfig mmdit_config_from_json(const nlohmann::json& json, const std::string& source);

// Keys and shapes of the official MMDiTModel state_dict (Open_Sora_v2.safetensors) for config.
ShapeMap mmdit_layout(const MmditConfig& config);

// "Open-Sora 2.0 MMDiT (3072 wide, 24 heads, 19 double + 38 single blocks)"
std::string architecture_text(const MmditConfig& config);

}  // namespace vidprobe::backbones::opensora
