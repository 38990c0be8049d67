#include "vidprobe/backbones/cogvideox/config.h"

#include <cmath>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"

namespace vidprobe::backbones::cogvideox {
namespace {

TransformerConfig variant(int heads, int layers, int in_channels, bool rotary, bool learned) {
  TransformerConfig config;
  config.heads = heads;
  config.layers = layers;
  config.in_channels = in_channels;
  config.rotary = rotary;
  config.learned_positions = learned;
  return config;
}

// Options of the diffusers config whose other values change the maths; they must be absent,
// null or this value.
void require_value(const nlohmann::json& json, const std::string& key, const nlohmann::json& value,
                   const std::string& source) {
  const auto it = json.find(key);
  require(it == json.end() || it->is_null() || *it == value,
          "'" + source + "': " + key + " = " + (it == json.end() ? "" : it->dump()) +
              " is not supported (CogVideoX 1.0 uses " + value.dump() + ")");
}

}  // namespace

std::vector<int64_t> TransformerConfig::rope_axis_widths() const {
  return {head_dim / 4, head_dim / 8 * 3, head_dim / 8 * 3};
}

void TransformerConfig::validate(const std::string& source) const {
  for (const auto& [name, value] : {std::pair<std::string, int>{"num_attention_heads", heads},
                                    {"attention_head_dim", head_dim},
                                    {"num_layers", layers},
                                    {"in_channels", in_channels},
                                    {"out_channels", out_channels},
                                    {"time_embed_dim", time_embed_dim},
                                    {"text_embed_dim", text_embed_dim},
                                    {"patch_size", patch},
                                    {"sample_height", sample_height},
                                    {"sample_width", sample_width},
                                    {"sample_frames", sample_frames},
                                    {"temporal_compression_ratio", temporal_compression},
                                    {"max_text_seq_length", max_text_tokens}})
    require(value > 0,
            "'" + source + "': " + name + " must be positive, got " + std::to_string(value));
  require(std::isfinite(rope_time_scale) && rope_time_scale > 0,
          "'" + source + "': the RoPE time scale must be positive, got " +
              std::to_string(rope_time_scale));
  require(!learned_positions || rotary,
          "'" + source + "': learned positional embeddings come only with rotary embeddings");
  // The 3D sin-cos table splits the width 1/4 time, 3/8 rows, 3/8 columns into sin|cos halves.
  require(rotary || dim() % 16 == 0, "'" + source + "': sin-cos positions need a width (" +
                                         std::to_string(dim()) + ") divisible by 16");
  require(!rotary || head_dim % 16 == 0,
          "'" + source + "': 3D RoPE needs attention_head_dim divisible by 16, got " +
              std::to_string(head_dim));
}

const std::vector<TransformerSize>& transformer_sizes() {
  static const std::vector<TransformerSize> sizes = {
      {"cogvideox-2b", "THUDM/CogVideoX-2b", variant(30, 30, 16, false, false),
       "CogVideoX 2B text-to-video transformer: a block's video hidden states at a DDIM timestep",
       Sampler::kDdim},
      {"cogvideox-5b", "THUDM/CogVideoX-5b", variant(48, 42, 16, true, false),
       "CogVideoX 5B text-to-video transformer: a block's video hidden states at a DDIM timestep",
       Sampler::kDpm},
      {"cogvideox-5b-i2v", "THUDM/CogVideoX-5b-I2V", variant(48, 42, 32, true, true),
       "CogVideoX 5B image-to-video transformer (the paper's variant; first frame as the image): "
       "a block's video hidden states at a DDIM timestep",
       Sampler::kDpm},
  };
  return sizes;
}

std::optional<Sampler> sampler_from_scheduler_json(const nlohmann::json& config) {
  if (!config.is_object() || !config.contains("_class_name") || !config["_class_name"].is_string())
    return std::nullopt;
  const auto name = config["_class_name"].get<std::string>();
  if (name == "CogVideoXDDIMScheduler") return Sampler::kDdim;
  if (name == "CogVideoXDPMScheduler") return Sampler::kDpm;
  return std::nullopt;
}

const TransformerConfig& transformer_config(const std::string& name) {
  std::string known;
  for (const auto& size : transformer_sizes()) {
    if (size.name == name) return size.config;
    known += (known.empty() ? "" : ", ") + size.name;
  }
  throw Error("unknown CogVideoX variant '" + name + "' (known: " + known + ")");
}

TransformerConfig transformer_config_from_json(const nlohmann::json& json,
                                               const std::string& source) {
  require(json.is_object(), "'" + source + "' is not a JSON object");
  for (const char* key : {"patch_size_t", "ofs_embed_dim"})
    require(!json.contains(key) || json[key].is_null(),
            "'" + source + "': " + key + " belongs to CogVideoX 1.5, which is not supported");
  require_value(json, "flip_sin_to_cos", true, source);
  require_value(json, "freq_shift", 0, source);
  require_value(json, "activation_fn", "gelu-approximate", source);
  require_value(json, "timestep_activation_fn", "silu", source);
  require_value(json, "norm_elementwise_affine", true, source);
  require_value(json, "attention_bias", true, source);
  require_value(json, "patch_bias", true, source);
  const std::string context = "'" + source + "'";
  TransformerConfig c;
  c.heads = json_get_or<int>(json, "num_attention_heads", c.heads, context);
  c.head_dim = json_get_or<int>(json, "attention_head_dim", c.head_dim, context);
  c.layers = json_get_or<int>(json, "num_layers", c.layers, context);
  c.in_channels = json_get_or<int>(json, "in_channels", c.in_channels, context);
  c.out_channels = json_get_or<int>(json, "out_channels", c.out_channels, context);
  c.time_embed_dim = json_get_or<int>(json, "time_embed_dim", c.time_embed_dim, context);
  c.text_embed_dim = json_get_or<int>(json, "text_embed_dim", c.text_embed_dim, context);
  c.patch = json_get_or<int>(json, "patch_size", c.patch, context);
  c.sample_height = json_get_or<int>(json, "sample_height", c.sample_height, context);
  c.sample_width = json_get_or<int>(json, "sample_width", c.sample_width, context);
  c.sample_frames = json_get_or<int>(json, "sample_frames", c.sample_frames, context);
  c.temporal_compression =
      json_get_or<int>(json, "temporal_compression_ratio", c.temporal_compression, context);
  c.max_text_tokens = json_get_or<int>(json, "max_text_seq_length", c.max_text_tokens, context);
  c.norm_eps = json_get_or<double>(json, "norm_eps", c.norm_eps, context);
  c.spatial_interpolation_scale = json_get_or<double>(json, "spatial_interpolation_scale",
                                                      c.spatial_interpolation_scale, context);
  c.temporal_interpolation_scale = json_get_or<double>(json, "temporal_interpolation_scale",
                                                       c.temporal_interpolation_scale, context);
  c.rotary = json_get_or<bool>(json, "use_rotary_positional_embeddings", c.rotary, context);
  c.learned_positions =
      json_get_or<bool>(json, "use_learned_positional_embeddings", c.learned_positions, context);
  c.validate(source);
  return c;
}

void VaeConfig::validate(const std::string& source) const {
  require(!block_out_channels.empty(), "'" + source + "': block_out_channels is empty");
  for (int channels : block_out_channels)
    require(norm_groups > 0 && channels % norm_groups == 0,
            "'" + source + "': norm_num_groups " + std::to_string(norm_groups) +
                " must divide every block width, got " + std::to_string(channels));
  require(in_channels > 0 && out_channels > 0 && latent_channels > 0 && layers_per_block > 0 &&
              frame_batch > 0,
          "'" + source + "': channel, layer and frame-batch counts must be positive");
  require(sample_height > 0 && sample_width > 0,
          "'" + source + "': sample_height and sample_width must be positive, got " +
              std::to_string(sample_height) + " and " + std::to_string(sample_width));
  require(!post_quant_conv || latent_channels == out_channels,
          "'" + source +
              "': use_post_quant_conv needs latent_channels == out_channels (diffusers "
              "builds it with out_channels), got " +
              std::to_string(latent_channels) + " and " + std::to_string(out_channels));
  require(temporal_compression == 1 || temporal_compression == 2 || temporal_compression == 4 ||
              temporal_compression == 8,
          "'" + source + "': temporal_compression_ratio must be a power of two up to 8, got " +
              std::to_string(temporal_compression));
}

VaeConfig vae_config_from_json(const nlohmann::json& json, const std::string& source) {
  require(json.is_object(), "'" + source + "' is not a JSON object");
  const std::string context = "'" + source + "'";
  for (const char* key : {"use_quant_conv", "invert_scale_latents"})
    require(!json_get_or<bool>(json, key, false, context),
            context + ": " + key + " = true is not part of the CogVideoX VAE");
  VaeConfig c;
  c.in_channels = json_get_or<int>(json, "in_channels", c.in_channels, context);
  c.out_channels = json_get_or<int>(json, "out_channels", c.out_channels, context);
  c.post_quant_conv = json_get_or<bool>(json, "use_post_quant_conv", false, context);
  c.block_out_channels =
      json_get_or<std::vector<int>>(json, "block_out_channels", c.block_out_channels, context);
  c.latent_channels = json_get_or<int>(json, "latent_channels", c.latent_channels, context);
  c.layers_per_block = json_get_or<int>(json, "layers_per_block", c.layers_per_block, context);
  c.norm_groups = json_get_or<int>(json, "norm_num_groups", c.norm_groups, context);
  c.norm_eps = json_get_or<double>(json, "norm_eps", c.norm_eps, context);
  c.temporal_compression =
      json_get_or<int>(json, "temporal_compression_ratio", c.temporal_compression, context);
  c.scaling_factor = json_get_or<double>(json, "scaling_factor", c.scaling_factor, context);
  c.sample_height = json_get_or<int>(json, "sample_height", c.sample_height, context);
  c.sample_width = json_get_or<int>(json, "sample_width", c.sample_width, context);
  c.validate(source);
  return c;
}

ScheduleConfig schedule_config_from_json(const nlohmann::json& json, const std::string& source) {
  const std::string context = "'" + source + "'";
  require(json.is_object(), context + " is not a JSON object");
  for (const auto& [key, expected] :
       {std::pair<std::string, std::string>{"beta_schedule", "scaled_linear"},
        {"timestep_spacing", "trailing"}}) {
    const auto value = json_get_or<std::string>(json, key, expected, context);
    require(value == expected, context + ": " + key + " '" + value +
                                   "' is not supported (CogVideoX uses '" + expected + "')");
  }
  require(!json.contains("trained_betas") || json["trained_betas"].is_null(),
          context + ": trained_betas is not supported");
  ScheduleConfig c;
  c.num_train_timesteps =
      json_get_or<int>(json, "num_train_timesteps", c.num_train_timesteps, context);
  c.beta_start = json_get_or<double>(json, "beta_start", c.beta_start, context);
  c.beta_end = json_get_or<double>(json, "beta_end", c.beta_end, context);
  c.snr_shift_scale = json_get_or<double>(json, "snr_shift_scale", c.snr_shift_scale, context);
  // diffusers' default is false; the CogVideoX scheduler configs set it.
  c.rescale_zero_terminal_snr = json_get_or<bool>(json, "rescale_betas_zero_snr", false, context);
  const auto prediction = json_get_or<std::string>(json, "prediction_type", "epsilon", context);
  require(prediction == "v_prediction" || prediction == "epsilon",
          context + ": prediction_type '" + prediction +
              "' is not supported (v_prediction or epsilon)");
  c.v_prediction = prediction == "v_prediction";
  c.set_alpha_to_one = json_get_or<bool>(json, "set_alpha_to_one", true, context);
  require(c.num_train_timesteps > 1, context + ": num_train_timesteps must be > 1, got " +
                                         std::to_string(c.num_train_timesteps));
  return c;
}

}  // namespace vidprobe::backbones::cogvideox
