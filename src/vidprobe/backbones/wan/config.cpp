#include "vidprobe/backbones/wan/config.h"

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"

namespace vidprobe::backbones::wan {
namespace {

template <typename T>
T field(const nlohmann::json& config, const std::string& key, T fallback,
        const std::string& source) {
  return json_get_or<T>(config, key, std::move(fallback), "'" + source + "'");
}

void require_positive(int value, const std::string& name, const std::string& source) {
  require(value > 0,
          "'" + source + "': " + name + " must be positive, got " + std::to_string(value));
}

}  // namespace

void DiTConfig::validate(const std::string& source) const {
  for (const auto& [name, value] : {std::pair<std::string, int>{"in_channels", in_channels},
                                    {"out_channels", out_channels},
                                    {"dim", dim},
                                    {"ffn_dim", ffn_dim},
                                    {"heads", heads},
                                    {"layers", layers},
                                    {"freq_dim", freq_dim},
                                    {"text_dim", text_dim},
                                    {"rope_max_seq_len", rope_max_seq_len}})
    require_positive(value, name, source);
  for (int p : patch) require_positive(p, "patch size", source);
  require(dim % heads == 0, "'" + source + "': dim " + std::to_string(dim) +
                                " is not divisible by heads " + std::to_string(heads));
  require(head_dim() % 2 == 0 && head_dim() >= 6,
          "'" + source + "': head dim " + std::to_string(head_dim()) +
              " must be even and at least 6 (the rotary embedding splits it three ways)");
  require(freq_dim % 2 == 0,
          "'" + source + "': freq_dim must be even, got " + std::to_string(freq_dim));
}

DiTConfig t2v_1_3b_dit() {
  DiTConfig config;
  config.dim = 1536;
  config.ffn_dim = 8960;
  config.heads = 12;
  config.layers = 30;
  return config;
}

DiTConfig t2v_14b_dit() {
  DiTConfig config;
  config.dim = 5120;
  config.ffn_dim = 13824;
  config.heads = 40;
  config.layers = 40;
  return config;
}

DiTConfig dit_config_from_json(const nlohmann::json& json, const std::string& source) {
  require(json.is_object(), "'" + source + "' is not a JSON object");
  DiTConfig config;
  if (json.contains("num_attention_heads")) {  // diffusers
    config.heads = field<int>(json, "num_attention_heads", config.heads, source);
    config.dim = config.heads * field<int>(json, "attention_head_dim", 128, source);
    config.layers = field<int>(json, "num_layers", config.layers, source);
    config.in_channels = field<int>(json, "in_channels", config.in_channels, source);
    config.out_channels = field<int>(json, "out_channels", config.out_channels, source);
    config.rope_max_seq_len = field<int>(json, "rope_max_seq_len", config.rope_max_seq_len, source);
    require(!json.contains("image_dim") || json["image_dim"].is_null(),
            "'" + source +
                "' describes an image-to-video transformer (image_dim); only T2V is supported");
  } else {  // original Wan-Video WanModel
    require(json.contains("dim") && json.contains("num_heads"),
            "'" + source +
                "' is neither a diffusers (num_attention_heads) nor an original Wan "
                "(dim, num_heads) transformer config");
    config.dim = field<int>(json, "dim", config.dim, source);
    config.heads = field<int>(json, "num_heads", config.heads, source);
    config.layers = field<int>(json, "num_layers", config.layers, source);
    config.in_channels = field<int>(json, "in_dim", config.in_channels, source);
    config.out_channels = field<int>(json, "out_dim", config.out_channels, source);
    const auto model_type = field<std::string>(json, "model_type", "t2v", source);
    require(model_type == "t2v", "'" + source + "' has model_type '" + model_type +
                                     "'; only text-to-video (t2v) is supported");
  }
  config.ffn_dim = field<int>(json, "ffn_dim", config.ffn_dim, source);
  config.freq_dim = field<int>(json, "freq_dim", config.freq_dim, source);
  config.text_dim = field<int>(json, "text_dim", config.text_dim, source);
  config.eps = field<double>(json, "eps", config.eps, source);
  config.cross_attn_norm = field<bool>(json, "cross_attn_norm", config.cross_attn_norm, source);
  if (json.contains("patch_size") && json["patch_size"].is_array()) {
    const auto patch = json["patch_size"].get<std::vector<int>>();
    require(patch.size() == 3, "'" + source + "': patch_size must have 3 entries");
    config.patch = {patch[0], patch[1], patch[2]};
  }
  config.validate(source);
  return config;
}

void VaeConfig::validate(const std::string& source) const {
  require_positive(base_dim, "base_dim", source);
  require_positive(z_dim, "z_dim", source);
  require_positive(in_channels, "in_channels", source);
  require_positive(out_channels, "out_channels", source);
  require(decoder_base_dim >= 0, "'" + source + "': decoder_base_dim must be >= 0, got " +
                                     std::to_string(decoder_base_dim));
  require_positive(num_res_blocks, "num_res_blocks", source);
  require(!dim_mult.empty(), "'" + source + "': dim_mult is empty");
  require(temporal_downsample.size() + 1 == dim_mult.size(),
          "'" + source + "': temperal_downsample needs " + std::to_string(dim_mult.size() - 1) +
              " entries for dim_mult of " + std::to_string(dim_mult.size()));
  require(latents_mean.size() == static_cast<std::size_t>(z_dim) &&
              latents_std.size() == static_cast<std::size_t>(z_dim),
          "'" + source + "': latents_mean and latents_std need z_dim = " + std::to_string(z_dim) +
              " entries");
  for (double s : latents_std) require(s > 0, "'" + source + "': latents_std entries must be > 0");
}

VaeConfig vae_config_from_json(const nlohmann::json& json, const std::string& source) {
  require(json.is_object(), "'" + source + "' is not a JSON object");
  VaeConfig config;
  config.base_dim = field<int>(json, "base_dim", config.base_dim, source);
  config.z_dim = field<int>(json, "z_dim", config.z_dim, source);
  config.in_channels = field<int>(json, "in_channels", config.in_channels, source);
  config.out_channels = field<int>(json, "out_channels", config.out_channels, source);
  if (const auto found = json.find("decoder_base_dim"); found != json.end() && !found->is_null())
    config.decoder_base_dim = field<int>(json, "decoder_base_dim", 0, source);
  config.dim_mult = field<std::vector<int>>(json, "dim_mult", config.dim_mult, source);
  config.num_res_blocks = field<int>(json, "num_res_blocks", config.num_res_blocks, source);
  config.temporal_downsample =
      field<std::vector<bool>>(json, "temperal_downsample", config.temporal_downsample, source);
  config.latents_mean =
      field<std::vector<double>>(json, "latents_mean", config.latents_mean, source);
  config.latents_std = field<std::vector<double>>(json, "latents_std", config.latents_std, source);
  const auto attn_scales = field<std::vector<double>>(json, "attn_scales", {}, source);
  require(attn_scales.empty(), "'" + source +
                                   "': attention in the VAE down blocks (attn_scales) "
                                   "is not part of WAN2.1's VAE and is not supported");
  require(
      !field<bool>(json, "is_residual", false, source),
      "'" + source + "' describes the WAN2.2 VAE (is_residual); only the WAN2.1 VAE is supported");
  require(json.value("patch_size", nlohmann::json()).is_null(),
          "'" + source + "' describes a patchified (WAN2.2) VAE; only the WAN2.1 VAE is supported");
  config.validate(source);
  return config;
}

void UMT5Config::validate(const std::string& source) const {
  for (const auto& [name, value] : {std::pair<std::string, int>{"vocab_size", vocab_size},
                                    {"d_model", d_model},
                                    {"d_kv", d_kv},
                                    {"num_heads", heads},
                                    {"d_ff", d_ff},
                                    {"num_layers", layers},
                                    {"relative_attention_num_buckets", relative_buckets},
                                    {"relative_attention_max_distance", relative_max_distance}})
    require_positive(value, name, source);
  require(relative_buckets % 4 == 0, "'" + source +
                                         "': relative_attention_num_buckets must be a "
                                         "multiple of 4 (bidirectional exact/log halves)");
}

UMT5Config umt5_config_from_json(const nlohmann::json& json, const std::string& source) {
  require(json.is_object(), "'" + source + "' is not a JSON object");
  UMT5Config config;
  config.vocab_size = field<int>(json, "vocab_size", config.vocab_size, source);
  config.d_model = field<int>(json, "d_model", config.d_model, source);
  config.d_kv = field<int>(json, "d_kv", config.d_kv, source);
  config.heads = field<int>(json, "num_heads", config.heads, source);
  config.d_ff = field<int>(json, "d_ff", config.d_ff, source);
  config.layers = field<int>(json, "num_layers", config.layers, source);
  config.relative_buckets =
      field<int>(json, "relative_attention_num_buckets", config.relative_buckets, source);
  config.relative_max_distance =
      field<int>(json, "relative_attention_max_distance", config.relative_max_distance, source);
  config.eps = field<double>(json, "layer_norm_epsilon", config.eps, source);
  const auto ff = field<std::string>(json, "feed_forward_proj", "gated-gelu", source);
  require(ff == "gated-gelu",
          "'" + source + "': feed_forward_proj '" + ff + "' is not umT5's gated-gelu");
  const auto model_type = field<std::string>(json, "model_type", "umt5", source);
  require(model_type == "umt5" || model_type == "t5",
          "'" + source + "': model_type '" + model_type + "' is neither umt5 nor t5");
  config.shared_position_bias = model_type == "t5";
  config.validate(source);
  return config;
}

}  // namespace vidprobe::backbones::wan
