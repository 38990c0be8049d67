#include "vidprobe/backbones/opensora/config.h"

#include <numeric>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"

namespace vidprobe::backbones::opensora {
namespace {

void add_linear(ShapeMap& layout, const std::string& name, int64_t in, int64_t out,
                bool bias = true) {
  layout[name + ".weight"] = {out, in};
  if (bias) layout[name + ".bias"] = {out};
}

void add_qk_norm(ShapeMap& layout, const std::string& prefix, int64_t head_dim) {
  layout[prefix + "norm.query_norm.scale"] = {head_dim};
  layout[prefix + "norm.key_norm.scale"] = {head_dim};
}

void add_double_block(ShapeMap& layout, const std::string& prefix, const MmditConfig& c) {
  const int64_t d = c.hidden_size;
  for (const std::string stream : {"img", "txt"}) {
    const auto p = prefix + stream;
    add_linear(layout, p + "_mod.lin", d, 6 * d);
    for (const std::string proj : {"q_proj", "k_proj", "v_proj"})
      add_linear(layout, p + "_attn." + proj, d, d, c.qkv_bias);
    add_qk_norm(layout, p + "_attn.", c.head_dim());
    add_linear(layout, p + "_attn.proj", d, d);
    add_linear(layout, p + "_mlp.0", d, c.mlp_hidden());
    add_linear(layout, p + "_mlp.2", c.mlp_hidden(), d);
  }
}

void add_single_block(ShapeMap& layout, const std::string& prefix, const MmditConfig& c) {
  const int64_t d = c.hidden_size;
  add_linear(layout, prefix + "q_proj", d, d);
  add_linear(layout, prefix + "k_proj", d, d);
  add_linear(layout, prefix + "v_mlp", d, d + c.mlp_hidden());
  add_linear(layout, prefix + "linear2", d + c.mlp_hidden(), d);
  add_qk_norm(layout, prefix, c.head_dim());
  add_linear(layout, prefix + "modulation.lin", d, 3 * d);
}

}  // namespace

void MmditConfig::validate(const std::string& source) const {
  for (const auto& [name, value] : {std::pair<std::string, int>{"in_channels", in_channels},
                                    {"vec_in_dim", vec_in_dim},
                                    {"context_in_dim", context_in_dim},
                                    {"hidden_size", hidden_size},
                                    {"num_heads", num_heads},
                                    {"depth_single_blocks", depth_single_blocks},
                                    {"patch_size", patch_size}})
    require(value > 0,
            "'" + source + "': " + name + " must be positive, got " + std::to_string(value));
  require(depth >= 0, "'" + source + "': depth must not be negative");
  require(hidden_size % num_heads == 0, "'" + source + "': num_heads " + std::to_string(num_heads) +
                                            " must divide hidden_size " +
                                            std::to_string(hidden_size));
  require(in_channels % (patch_size * patch_size) == 0,
          "'" + source + "': in_channels " + std::to_string(in_channels) +
              " is not latent channels x patch_size^2");
  require(axes_dim.size() == 3, "'" + source + "': axes_dim needs 3 entries (t, h, w)");
  const auto axes = std::accumulate(axes_dim.begin(), axes_dim.end(), int64_t{0});
  require(axes == head_dim(), "'" + source + "': axes_dim sums to " + std::to_string(axes) +
                                  ", the head width is " + std::to_string(head_dim()));
  require(mlp_ratio > 0, "'" + source + "': mlp_ratio must be positive");
}

const std::vector<MmditSize>& mmdit_sizes() {
  static const std::vector<MmditSize> sizes{
      {"opensora-v2", MmditConfig{},
       "Open-Sora 2.0 (11B MMDiT, Hunyuan causal video VAE), single_blocks[20] at t = 0.25 "
       "shifted, 21 latent frames"}};
  return sizes;
}

const MmditConfig& mmdit_config(const std::string& name) {
  for (const auto& size : mmdit_sizes())
    if (size.name == name) return size.config;
  throw Error("unknown Open-Sora size '" + name + "' (known: opensora-v2)");
}

MmditConfig mmdit_config_from_json(const nlohmann::json& json, const std::string& source) {
  const auto context = "'" + source + "'";
  require(!json_get_or<bool>(json, "fused_qkv", false, context),
          context + ": fused_qkv = true is not supported (Open-Sora 2.0 uses false)");
  require(!json_get_or<bool>(json, "guidance_embed", false, context),
          context + ": guidance_embed = true is not supported (Open-Sora 2.0 uses false)");
  MmditConfig c;
  c.in_channels = json_get_or<int>(json, "in_channels", c.in_channels, context);
  c.vec_in_dim = json_get_or<int>(json, "vec_in_dim", c.vec_in_dim, context);
  c.context_in_dim = json_get_or<int>(json, "context_in_dim", c.context_in_dim, context);
  c.hidden_size = json_get_or<int>(json, "hidden_size", c.hidden_size, context);
  c.mlp_ratio = json_get_or<double>(json, "mlp_ratio", c.mlp_ratio, context);
  c.num_heads = json_get_or<int>(json, "num_heads", c.num_heads, context);
  c.depth = json_get_or<int>(json, "depth", c.depth, context);
  c.depth_single_blocks =
      json_get_or<int>(json, "depth_single_blocks", c.depth_single_blocks, context);
  c.axes_dim = json_get_or<std::vector<int64_t>>(json, "axes_dim", c.axes_dim, context);
  c.theta = json_get_or<double>(json, "theta", c.theta, context);
  c.qkv_bias = json_get_or<bool>(json, "qkv_bias", c.qkv_bias, context);
  c.cond_embed = json_get_or<bool>(json, "cond_embed", c.cond_embed, context);
  c.patch_size = json_get_or<int>(json, "patch_size", c.patch_size, context);
  c.validate(source);
  return c;
}

ShapeMap mmdit_layout(const MmditConfig& c) {
  ShapeMap layout;
  const int64_t d = c.hidden_size;
  add_linear(layout, "img_in", c.in_channels, d);
  add_linear(layout, "time_in.in_layer", 256, d);
  add_linear(layout, "time_in.out_layer", d, d);
  add_linear(layout, "vector_in.in_layer", c.vec_in_dim, d);
  add_linear(layout, "vector_in.out_layer", d, d);
  if (c.cond_embed) add_linear(layout, "cond_in", c.cond_channels(), d);
  add_linear(layout, "txt_in", c.context_in_dim, d);
  for (int i = 0; i < c.depth; ++i)
    add_double_block(layout, "double_blocks." + std::to_string(i) + ".", c);
  for (int i = 0; i < c.depth_single_blocks; ++i)
    add_single_block(layout, "single_blocks." + std::to_string(i) + ".", c);
  add_linear(layout, "final_layer.linear", d, c.in_channels);
  add_linear(layout, "final_layer.adaLN_modulation.1", d, 2 * d);
  return layout;
}

std::string architecture_text(const MmditConfig& c) {
  return "Open-Sora 2.0 MMDiT (" + std::to_string(c.hidden_size) + " wide, " +
         std::to_string(c.num_heads) + " heads, " + std::to_string(c.depth) + " double + " +
         std::to_string(c.depth_single_blocks) + " single blocks, " +
         std::to_string(c.in_channels) + " input channels)";
}

}  // namespace vidprobe::backbones::opensora
