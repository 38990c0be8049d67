#pragma once
// The CLIP text transformer's configuration (transformers' CLIPTextConfig) as plain values,
// without libtorch (the fuzz build parses it); text/clip_text.h builds the model.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "vidprobe/nn/gelu.h"

namespace vidprobe::backbones::text {

inline constexpr int64_t kClipBosId = 49406;  // <|startoftext|>
inline constexpr int64_t kClipEosId = 49407;  // <|endoftext|>, also CLIP-L's pad token

// Field names and defaults follow transformers' CLIPTextConfig.
struct ClipTextConfig {
  int vocab_size = 49408;
  int hidden_size = 512;
  int intermediate_size = 2048;
  int num_hidden_layers = 12;
  int num_attention_heads = 8;
  int max_position_embeddings = 77;
  double layer_norm_eps = 1e-5;
  nn::Gelu hidden_act = nn::Gelu::kQuick;  // "quick_gelu" | "gelu"
  int64_t eos_token_id = kClipEosId;

  // Throws vidprobe::Error naming source and the field when the numbers cannot form a model.
  void validate(const std::string& source) const;
};

// From a config.json: a CLIPConfig (its "text_config") or a CLIPTextConfig.
ClipTextConfig clip_text_config_from_json(const nlohmann::json& json, const std::string& source);

}  // namespace vidprobe::backbones::text
