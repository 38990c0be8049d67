#include "vidprobe/backbones/vggt/config.h"

#include <set>

#include "vidprobe/backbones/dinov2/sizes.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/io/gzip.h"

namespace vidprobe::backbones {
namespace {

using nlohmann::json;

template <typename T>
void read_field(const json& object, const std::string& key, T& field, const std::string& where,
                std::set<std::string>& seen) {
  seen.insert(key);
  if (!object.contains(key)) return;
  field =
      json_as<T>(object.at(key), "VGGT configuration " + where + ": bad value for '" + key + "'");
}

void reject_unknown(const json& object, const std::set<std::string>& seen,
                    const std::string& where) {
  for (const auto& [key, value] : object.items())
    require(seen.contains(key), "VGGT configuration " + where + ": unknown key '" + key + "'");
}

}  // namespace

VggtConfig vggt_1b_config() {
  VggtConfig config;
  config.patch_embed = dinov2_config("dinov2-vitl14-reg");
  return config;
}

void validate(const VggtConfig& c) {
  auto check = [](bool ok, const std::string& what) { require(ok, "VGGT configuration: " + what); };
  check(c.width > 0 && c.heads > 0 && c.width % c.heads == 0, "heads (" + std::to_string(c.heads) +
                                                                  ") must divide width (" +
                                                                  std::to_string(c.width) + ")");
  check(c.rope_frequency <= 0 || (c.width / c.heads) % 4 == 0,
        "2D RoPE needs a head width divisible by 4, got " + std::to_string(c.width / c.heads));
  check(c.depth > 0, "depth must be positive, got " + std::to_string(c.depth));
  check(c.patch_size > 0 && c.image_size > 0 && c.image_size % c.patch_size == 0,
        "patch_size (" + std::to_string(c.patch_size) +
            ") must be positive and divide image_size (" + std::to_string(c.image_size) + ")");
  check(c.patch_embed.depth > 0 && c.patch_embed.heads > 0 &&
            c.patch_embed.width % c.patch_embed.heads == 0,
        "patch embed depth must be positive and its heads must divide its width");
  check(c.patch_embed.width == c.width, "patch embed width " + std::to_string(c.patch_embed.width) +
                                            " must equal the aggregator width " +
                                            std::to_string(c.width));
  check(c.patch_embed.patch_size == c.patch_size && c.patch_embed.image_size == c.image_size,
        "patch embed patch/image size must equal the aggregator's");
  check(c.patch_embed.register_tokens == c.register_tokens,
        "patch embed register tokens must equal the aggregator's");
  check(c.dpt_layers.size() == 4 && c.dpt_out_channels.size() == 4,
        "dpt_layers and dpt_out_channels must list 4 levels");
  for (int layer : c.dpt_layers)
    check(layer >= 0 && layer < c.depth,
          "dpt layer " + std::to_string(layer) + " is outside 0.." + std::to_string(c.depth - 1));
  check(c.camera_heads > 0 && (2 * c.width) % c.camera_heads == 0,
        "camera_heads must divide 2 x width");
  check(c.camera_iterations > 0 && c.camera_trunk_depth > 0,
        "camera iterations and trunk depth must be positive");
  check(c.dpt_features > 0 && c.dpt_features % 2 == 0, "dpt_features must be positive and even");
}

std::string architecture_text(const VggtConfig& c) {
  return "VGGT (width " + std::to_string(c.width) + ", " + std::to_string(c.depth) +
         " frame + global blocks, " + std::to_string(c.heads) + " heads, patch " +
         std::to_string(c.patch_size) + ", patch embed DINOv2 width " +
         std::to_string(c.patch_embed.width) + " x " + std::to_string(c.patch_embed.depth) +
         " blocks, DPT " + std::to_string(c.dpt_features) + " features, camera trunk " +
         std::to_string(c.camera_trunk_depth) + ")";
}

VggtConfig vggt_config_from_json(const json& j) {
  require(j.is_object(), "VGGT configuration must be a JSON object");
  VggtConfig c = vggt_1b_config();
  std::set<std::string> seen;
  const std::string where = "";
  read_field(j, "image_size", c.image_size, where, seen);
  read_field(j, "patch_size", c.patch_size, where, seen);
  read_field(j, "width", c.width, where, seen);
  read_field(j, "depth", c.depth, where, seen);
  read_field(j, "heads", c.heads, where, seen);
  read_field(j, "mlp_ratio", c.mlp_ratio, where, seen);
  read_field(j, "register_tokens", c.register_tokens, where, seen);
  read_field(j, "rope_frequency", c.rope_frequency, where, seen);
  read_field(j, "layer_scale_init", c.layer_scale_init, where, seen);
  read_field(j, "dpt_layers", c.dpt_layers, where, seen);
  read_field(j, "dpt_features", c.dpt_features, where, seen);
  read_field(j, "dpt_out_channels", c.dpt_out_channels, where, seen);
  read_field(j, "camera_trunk_depth", c.camera_trunk_depth, where, seen);
  read_field(j, "camera_heads", c.camera_heads, where, seen);
  read_field(j, "camera_iterations", c.camera_iterations, where, seen);
  // The fixture records its input shape next to the architecture; it is not part of the model.
  seen.insert("input");
  c.patch_embed.image_size = c.image_size;
  c.patch_embed.patch_size = c.patch_size;
  c.patch_embed.register_tokens = c.register_tokens;
  c.patch_embed.width = c.width;
  seen.insert("patch_embed");
  if (j.contains("patch_embed")) {
    const auto& pe = j.at("patch_embed");
    require(pe.is_object(), "VGGT configuration: 'patch_embed' must be a JSON object");
    std::set<std::string> pe_seen;
    read_field(pe, "width", c.patch_embed.width, "patch_embed", pe_seen);
    read_field(pe, "depth", c.patch_embed.depth, "patch_embed", pe_seen);
    read_field(pe, "heads", c.patch_embed.heads, "patch_embed", pe_seen);
    read_field(pe, "mlp_ratio", c.patch_embed.mlp_ratio, "patch_embed", pe_seen);
    reject_unknown(pe, pe_seen, "patch_embed");
  }
  reject_unknown(j, seen, where);
  validate(c);
  return c;
}

VggtConfig load_vggt_config(const std::filesystem::path& path) {
  try {
    return vggt_config_from_json(read_json_file(path));
  } catch (const json::exception& e) {
    throw Error("VGGT configuration '" + path.string() + "' is not valid JSON: " + e.what());
  } catch (const Error& e) {
    throw Error("'" + path.string() + "': " + e.what());
  }
}

}  // namespace vidprobe::backbones
