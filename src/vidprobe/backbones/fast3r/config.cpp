#include "vidprobe/backbones/fast3r/config.h"

#include <set>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/core/text_parse.h"

namespace vidprobe::backbones::fast3r {
namespace {

void add_linear(ShapeMap& layout, const std::string& name, int64_t in, int64_t out) {
  layout[name + ".weight"] = {out, in};
  layout[name + ".bias"] = {out};
}

void add_norm(ShapeMap& layout, const std::string& name, int64_t dim) {
  layout[name + ".weight"] = {dim};
  layout[name + ".bias"] = {dim};
}

// croco.models.blocks.Block: norm1, attn.{qkv, proj}, norm2, mlp.{fc1, fc2}.
void add_block(ShapeMap& layout, const std::string& prefix, int64_t dim, double mlp_ratio) {
  const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio);
  add_norm(layout, prefix + "norm1", dim);
  add_linear(layout, prefix + "attn.qkv", dim, 3 * dim);
  add_linear(layout, prefix + "attn.proj", dim, dim);
  add_norm(layout, prefix + "norm2", dim);
  add_linear(layout, prefix + "mlp.fc1", dim, hidden);
  add_linear(layout, prefix + "mlp.fc2", hidden, dim);
}

// The constructor arguments each dict may hold (CroCoEncoder / Fast3RDecoder signatures plus the
// type selector Fast3R pops); anything else is a TypeError in the official code.
const std::set<std::string>& encoder_fields() {
  static const std::set<std::string> fields{
      "encoder_type", "img_size", "patch_size", "patch_embed_cls", "embed_dim",
      "num_heads",    "depth",    "mlp_ratio",  "pos_embed",       "attn_implementation"};
  return fields;
}

const std::set<std::string>& decoder_fields() {
  static const std::set<std::string> fields{"decoder_type",
                                            "random_image_idx_embedding",
                                            "enc_embed_dim",
                                            "embed_dim",
                                            "num_heads",
                                            "depth",
                                            "mlp_ratio",
                                            "qkv_bias",
                                            "drop",
                                            "attn_drop",
                                            "attn_implementation",
                                            "attn_bias_for_inference_enabled"};
  return fields;
}

void require_known_fields(const nlohmann::json& args, const std::set<std::string>& known,
                          const std::string& context) {
  require(args.is_object(), context + ": expected a JSON object");
  for (const auto& [key, value] : args.items())
    require(known.count(key) > 0, context + ": unknown field '" + key +
                                      "' (not an argument of the official constructor)");
}

void require_value(const nlohmann::json& args, const std::string& key, const std::string& wanted,
                   const std::string& context) {
  const auto value = json_get_or<std::string>(args, key, wanted, context);
  require(value == wanted, context + ": " + key + " '" + value + "' is not supported (vidprobe " +
                               "implements '" + wanted + "')");
}

EncoderConfig encoder_from_json(const nlohmann::json& args, const std::string& context) {
  require_known_fields(args, encoder_fields(), context);
  require_value(args, "encoder_type", "croco", context);
  EncoderConfig c;
  c.img_size = json_get_or<int>(args, "img_size", c.img_size, context);
  c.patch_size = json_get_or<int>(args, "patch_size", c.patch_size, context);
  c.embed_dim = json_get_or<int>(args, "embed_dim", c.embed_dim, context);
  c.num_heads = json_get_or<int>(args, "num_heads", c.num_heads, context);
  c.depth = json_get_or<int>(args, "depth", c.depth, context);
  c.mlp_ratio = json_get_or<double>(args, "mlp_ratio", c.mlp_ratio, context);
  const auto pos_embed = json_get_or<std::string>(args, "pos_embed", "RoPE100", context);
  require(pos_embed.rfind("RoPE", 0) == 0,
          context + ": pos_embed '" + pos_embed + "' is not supported (RoPE<base>, e.g. RoPE100)");
  c.rope_base = parse_double(pos_embed.substr(4), context + ": pos_embed");
  const auto patch_embed =
      json_get_or<std::string>(args, "patch_embed_cls", "PatchEmbedDust3R", context);
  require(patch_embed == "PatchEmbedDust3R" || patch_embed == "ManyAR_PatchEmbed",
          context + ": patch_embed_cls '" + patch_embed +
              "' is not supported (PatchEmbedDust3R or ManyAR_PatchEmbed)");
  c.patch_embed =
      patch_embed == "PatchEmbedDust3R" ? PatchEmbed::kDust3r : PatchEmbed::kManyAspectRatio;
  return c;
}

DecoderConfig decoder_from_json(const nlohmann::json& args, const EncoderConfig& encoder,
                                const std::string& context) {
  require_known_fields(args, decoder_fields(), context);
  require_value(args, "decoder_type", "fast3r", context);
  const int enc_dim = json_get_or<int>(args, "enc_embed_dim", encoder.embed_dim, context);
  require(enc_dim == encoder.embed_dim, context + ": enc_embed_dim " + std::to_string(enc_dim) +
                                            " differs from encoder_args.embed_dim " +
                                            std::to_string(encoder.embed_dim));
  require(json_get_or<bool>(args, "qkv_bias", true, context),
          context + ": qkv_bias false is not supported (Fast3R's decoder has q, k, v biases)");
  for (const std::string key : {"drop", "attn_drop"})
    require(json_get_or<double>(args, key, 0.0, context) == 0.0,
            context + ": " + key + " must be 0 (dropout is not implemented)");
  DecoderConfig c;
  c.embed_dim = json_get_or<int>(args, "embed_dim", 768, context);  // the constructor's defaults
  c.num_heads = json_get_or<int>(args, "num_heads", 12, context);
  c.depth = json_get_or<int>(args, "depth", 12, context);
  c.mlp_ratio = json_get_or<double>(args, "mlp_ratio", 4.0, context);
  c.attn_bias_for_inference_enabled =
      json_get_or<bool>(args, "attn_bias_for_inference_enabled", true, context);
  c.random_image_idx_embedding = json_get<bool>(args, "random_image_idx_embedding", context);
  return c;
}

void require_positive(int value, const std::string& name, const std::string& source) {
  require(value > 0,
          "'" + source + "': " + name + " must be positive, got " + std::to_string(value));
}

}  // namespace

void Fast3rConfig::validate(const std::string& source) const {
  require_positive(encoder.patch_size, "encoder patch_size", source);
  require_positive(encoder.embed_dim, "encoder embed_dim", source);
  require_positive(encoder.num_heads, "encoder num_heads", source);
  require_positive(encoder.depth, "encoder depth", source);
  require_positive(decoder.embed_dim, "decoder embed_dim", source);
  require_positive(decoder.num_heads, "decoder num_heads", source);
  require_positive(decoder.depth, "decoder depth", source);
  require(encoder.embed_dim % encoder.num_heads == 0 &&
              (encoder.embed_dim / encoder.num_heads) % 4 == 0,
          "'" + source +
              "': the encoder's head width (embed_dim / num_heads) must be a multiple "
              "of 4 for 2D RoPE");
  require(decoder.embed_dim % decoder.num_heads == 0,
          "'" + source + "': decoder num_heads must divide embed_dim");
  require(decoder.embed_dim % 2 == 0,
          "'" + source + "': decoder embed_dim must be even (sin | cos image-index table)");
  require(encoder.mlp_ratio > 0 && decoder.mlp_ratio > 0,
          "'" + source + "': mlp_ratio must be positive");
  require(encoder.rope_base > 0, "'" + source + "': the RoPE base must be positive");
}

const std::vector<Fast3rSize>& fast3r_sizes() {
  static const std::vector<Fast3rSize> sizes{
      {"fast3r-vitl16-512", Fast3rConfig{},
       "Fast3R ViT-L/16 512 (jedyang97/Fast3R_ViT_Large_512): decoder maps over all frames at "
       "once (0 = encoder, 24 = final norm, the paper's), 288 x 512"}};
  return sizes;
}

Fast3rConfig config_from_json(const nlohmann::json& json, const std::string& source) {
  const auto context = "'" + source + "'";
  require(json.is_object(), context + ": expected a JSON object");
  for (const auto& [key, value] : json.items())
    require(key == "encoder_args" || key == "decoder_args" || key == "head_args" || key == "freeze",
            context + ": unknown field '" + key + "' (Fast3R's config has encoder_args, " +
                "decoder_args, head_args)");
  Fast3rConfig c;
  c.encoder =
      encoder_from_json(json_field(json, "encoder_args", context), context + " encoder_args");
  c.decoder = decoder_from_json(json_field(json, "decoder_args", context), c.encoder,
                                context + " decoder_args");
  c.validate(source);
  return c;
}

ShapeMap backbone_layout(const Fast3rConfig& c) {
  ShapeMap layout;
  const int64_t e = c.encoder.embed_dim, d = c.decoder.embed_dim, p = c.encoder.patch_size;
  layout["encoder.patch_embed.proj.weight"] = {e, 3, p, p};
  layout["encoder.patch_embed.proj.bias"] = {e};
  for (int i = 0; i < c.encoder.depth; ++i)
    add_block(layout, "encoder.enc_blocks." + std::to_string(i) + ".", e, c.encoder.mlp_ratio);
  add_norm(layout, "encoder.enc_norm", e);
  add_linear(layout, "decoder.decoder_embed", e, d);
  for (int i = 0; i < c.decoder.depth; ++i)
    add_block(layout, "decoder.dec_blocks." + std::to_string(i) + ".", d, c.decoder.mlp_ratio);
  add_norm(layout, "decoder.dec_norm", d);
  return layout;
}

const std::vector<std::string>& head_prefixes() {
  static const std::vector<std::string> prefixes{"downstream_head.", "downstream_head_local."};
  return prefixes;
}

std::string architecture_text(const Fast3rConfig& c) {
  return "Fast3R (CroCo encoder " + std::to_string(c.encoder.embed_dim) + " wide, " +
         std::to_string(c.encoder.depth) + " blocks, " + std::to_string(c.encoder.num_heads) +
         " heads, patch " + std::to_string(c.encoder.patch_size) + "; decoder " +
         std::to_string(c.decoder.embed_dim) + " wide, " + std::to_string(c.decoder.depth) +
         " blocks, " + std::to_string(c.decoder.num_heads) + " heads)";
}

}  // namespace vidprobe::backbones::fast3r
