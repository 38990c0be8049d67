#include "vidprobe/backbones/text/clip_text_config.h"

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"

namespace vidprobe::backbones::text {
namespace {

nn::Gelu parse_hidden_act(const std::string& name, const std::string& source) {
  if (name == "quick_gelu") return nn::Gelu::kQuick;
  if (name == "gelu") return nn::Gelu::kExact;
  throw Error("'" + source + "': hidden_act '" + name +
              "' is not supported by the CLIP text model (quick_gelu or gelu)");
}

}  // namespace

void ClipTextConfig::validate(const std::string& source) const {
  for (const auto& [name, value] : {std::pair<std::string, int>{"vocab_size", vocab_size},
                                    {"hidden_size", hidden_size},
                                    {"intermediate_size", intermediate_size},
                                    {"num_hidden_layers", num_hidden_layers},
                                    {"num_attention_heads", num_attention_heads},
                                    {"max_position_embeddings", max_position_embeddings}})
    require(value > 0,
            "'" + source + "': " + name + " must be positive, got " + std::to_string(value));
  require(hidden_size % num_attention_heads == 0,
          "'" + source + "': num_attention_heads " + std::to_string(num_attention_heads) +
              " must divide hidden_size " + std::to_string(hidden_size));
  require(layer_norm_eps > 0, "'" + source + "': layer_norm_eps must be positive");
}

ClipTextConfig clip_text_config_from_json(const nlohmann::json& json, const std::string& source) {
  const auto context = "'" + source + "'";
  const auto& j = json.contains("text_config") ? json.at("text_config") : json;
  ClipTextConfig c;
  c.vocab_size = json_get_or<int>(j, "vocab_size", c.vocab_size, context);
  c.hidden_size = json_get_or<int>(j, "hidden_size", c.hidden_size, context);
  c.intermediate_size = json_get_or<int>(j, "intermediate_size", c.intermediate_size, context);
  c.num_hidden_layers = json_get_or<int>(j, "num_hidden_layers", c.num_hidden_layers, context);
  c.num_attention_heads =
      json_get_or<int>(j, "num_attention_heads", c.num_attention_heads, context);
  c.max_position_embeddings =
      json_get_or<int>(j, "max_position_embeddings", c.max_position_embeddings, context);
  c.layer_norm_eps = json_get_or<double>(j, "layer_norm_eps", c.layer_norm_eps, context);
  c.hidden_act =
      parse_hidden_act(json_get_or<std::string>(j, "hidden_act", "quick_gelu", context), source);
  c.eos_token_id = json_get_or<int64_t>(j, "eos_token_id", c.eos_token_id, context);
  c.validate(source);
  return c;
}

}  // namespace vidprobe::backbones::text
