#pragma once
// Architecture constants of Fast3R (facebookresearch/fast3r, fast3r/models/fast3r.py) and its
// size table: a CroCo ViT encoder run on every frame, then a decoder over the tokens of all frames
// at once (no RoPE there; each frame's tokens carry a 1D sin-cos embedding of an image index).
// Field names follow the official constructor arguments, which the hub config.json of
// jedyang97/Fast3R_ViT_Large_512 stores as {"encoder_args", "decoder_args", "head_args"}.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/backbones/shape_map.h"

namespace vidprobe::backbones::fast3r {

// encoder_args.patch_embed_cls. PatchEmbedDust3R (the published config) embeds every frame as it
// is; ManyAR_PatchEmbed (the training configs) transposes portrait frames first, which vidprobe
// does not implement: such a model takes landscape frames only (identical there).
enum class PatchEmbed { kDust3r, kManyAspectRatio };

struct EncoderConfig {
  int img_size = 512;  // unused by PatchEmbedDust3R (any size that is a multiple of the patch)
  int patch_size = 16;
  int embed_dim = 1024;
  int num_heads = 16;
  int depth = 24;
  double mlp_ratio = 4.0;
  double rope_base = 100.0;  // pos_embed "RoPE100"
  PatchEmbed patch_embed = PatchEmbed::kDust3r;
};

struct DecoderConfig {
  int embed_dim = 1024;
  int num_heads = 16;
  int depth = 24;
  double mlp_ratio = 4.0;
  // The attention scale head_dim^-0.5 sqrt(log 137 / log 20) at inference (the constructor's
  // default is true; the published config.json sets false).
  bool attn_bias_for_inference_enabled = false;
  // Frame 0 gets image index 0, the others distinct random indices in 1..999 (true in every
  // released config); false: frame s gets index s.
  bool random_image_idx_embedding = true;
};

struct Fast3rConfig {
  EncoderConfig encoder;
  DecoderConfig decoder;
  // The maps the decoder returns: [encoder output, block 0, ..., block depth - 2,
  // dec_norm(block depth - 1)].
  int maps() const { return decoder.depth + 1; }
  // Throws vidprobe::Error naming the field when the numbers cannot form a model.
  void validate(const std::string& source) const;
};

// Size of the image-index table (indices 0..999) and the attention-bias constants.
inline constexpr int kImageIndices = 1000;
inline constexpr double kTrainSequences = 20.0, kInferenceSequences = 137.0;

struct Fast3rSize {
  std::string name;  // fast3r-vitl16-512
  Fast3rConfig config;
  std::string description;
};
const std::vector<Fast3rSize>& fast3r_sizes();

// From the hub config.json ({"encoder_args", "decoder_args", "head_args"}). Refuses, naming the
// field, what the official constructor would refuse (unknown arguments) and what vidprobe does not
// implement (encoder_type other than croco, decoder_type other than fast3r, pos_embed other than
// RoPE<base>, qkv_bias false, dropout).
Fast3rConfig config_from_json(const nlohmann::json& json, const std::string& source);

// Keys and shapes of the encoder and decoder in the official state_dict (encoder.*, decoder.*).
ShapeMap backbone_layout(const Fast3rConfig& config);

// Key prefixes of the prediction heads in the published model.safetensors: skipped on loading.
const std::vector<std::string>& head_prefixes();

// "Fast3R (CroCo encoder 1024 wide, 24 blocks, 16 heads, patch 16; decoder 1024 wide, ...)"
std::string architecture_text(const Fast3rConfig& config);

}  // namespace vidprobe::backbones::fast3r
