#include "vidprobe/backbones/vjepa/vjepa1.h"

#include "vidprobe/backbones/family_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"

namespace vidprobe::backbones {
namespace {

struct VJEPA1Size {
  std::string name;
  int width, depth, heads;
  int crop;
  std::string description;
};

// configs/pretrain/vit{l16,h16,h16_384}.yaml: patch 16, tubelet 2, 16 frames, MLP ratio 4.
const std::vector<VJEPA1Size>& vjepa1_sizes() {
  static const std::vector<VJEPA1Size> sizes = {
      {"vjepa1-vitl16", 1024, 24, 16, 224,
       "V-JEPA ViT-L/16, stored 3D sin-cos positions, 224 px (jepa vitl16.pth.tar)"},
      {"vjepa1-vith16", 1280, 32, 16, 224,
       "V-JEPA ViT-H/16, stored 3D sin-cos positions, 224 px (jepa vith16.pth.tar)"},
      {"vjepa1-vith16-384", 1280, 32, 16, 384,
       "V-JEPA ViT-H/16, stored 3D sin-cos positions, 384 px (jepa vith16-384.pth.tar; the "
       "paper's V-JEPA)"},
  };
  return sizes;
}

constexpr const char* kPrefix = "encoder.module.backbone.";

std::string architecture_text(const VideoViTConfig& c) {
  return "V-JEPA (width " + std::to_string(c.vit.width) + ", " + std::to_string(c.vit.depth) +
         " blocks, " + std::to_string(c.vit.heads) + " heads, MLP " +
         std::to_string(nn::feed_forward_width(c.vit)) + ", tubelet " + std::to_string(c.tubelet) +
         " x " + std::to_string(c.vit.patch_size) + " x " + std::to_string(c.vit.patch_size) +
         ", position table for " + std::to_string(c.frames) + " frames at " +
         std::to_string(c.vit.image_size) +
         " px) in the pre-training checkpoint layout (`encoder` "
         "entry, keys under module.backbone.)";
}

}  // namespace

VideoViTConfig vjepa1_config(const std::string& name) {
  const auto& size = find_size(vjepa1_sizes(), name, "V-JEPA");
  VideoViTConfig config;
  config.vit.image_size = size.crop;
  config.vit.patch_size = 16;
  config.vit.width = size.width;
  config.vit.depth = size.depth;
  config.vit.heads = size.heads;
  config.vit.mlp_ratio = 4.0;
  config.vit.norm_eps = 1e-6;
  config.vit.layer_scale = false;
  config.tubelet = 2;
  config.frames = 16;
  config.positions = VideoPositions::kStoredTable;
  return config;
}

ShapeMap vjepa1_layout(const VideoViTConfig& c) {
  const int64_t d = c.vit.width, p = c.vit.patch_size;
  const int64_t grid = c.vit.image_size / p;
  ShapeMap layout = {
      {"patch_embed.proj.weight", {d, 3, c.tubelet, p, p}},
      {"patch_embed.proj.bias", {d}},
      {"pos_embed", {1, c.frames / c.tubelet * grid * grid, d}},
      {"norm.weight", {d}},
      {"norm.bias", {d}},
  };
  for (int i = 0; i < c.vit.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    layout[b + "attn.qkv.weight"] = {3 * d, d};
    layout[b + "attn.qkv.bias"] = {3 * d};
    layout[b + "attn.proj.weight"] = {d, d};
    layout[b + "attn.proj.bias"] = {d};
    add_norm_and_mlp_layout(layout, b, c);
  }
  return layout;
}

TensorMap vjepa1_module_tensors(TensorMap checkpoint, const VideoViTConfig& config,
                                const std::string& source) {
  auto tensors = select_backbone_tensors(
      std::move(checkpoint), {{kPrefix}, {"predictor.", "target_encoder.", "opt.", "scaler."}});
  require_layout(tensors, vjepa1_layout(config), source, architecture_text(config));
  tensors.erase("norm.weight");
  tensors.erase("norm.bias");
  rename_key(tensors, "patch_embed.proj.weight", "patch_embed.weight");
  rename_key(tensors, "patch_embed.proj.bias", "patch_embed.bias");
  return tensors;
}

VideoInput vjepa1_input_from(const std::string& backbone, const VideoViTConfig& config,
                             const std::map<std::string, std::string>& extra) {
  require_known_extra_options(backbone, extra, vjepa1_family_options().keys);
  VideoInput input{.height = config.vit.image_size, .width = config.vit.image_size};
  const int p = config.vit.patch_size;
  if (const auto it = extra.find("size"); it != extra.end()) {
    std::tie(input.height, input.width) = parse_height_width(it->second, "--backbone-opt size");
    require(input.height % p == 0 && input.width % p == 0,
            "--backbone-opt size must be HxW in multiples of " + std::to_string(p) +
                " (e.g. 480x832), got '" + it->second + "'");
  }
  if (const auto it = extra.find("spaced_clips"); it != extra.end()) {
    input.spaced_clips = parse_int(it->second, "--backbone-opt spaced_clips");
    require(input.spaced_clips >= 1,
            "--backbone-opt spaced_clips must be at least 1, got '" + it->second + "'");
  }
  return input;
}

FamilyOptions vjepa1_family_options() {
  return {
      .keys = {"size", "spaced_clips"},
      .parse = [](const std::string& backbone, const std::map<std::string, std::string>& extra) {
        vjepa1_input_from(backbone, vjepa1_config(backbone), extra);
      }};
}

std::unique_ptr<Backbone> make_vjepa1_backbone(const std::string& name,
                                               const VideoViTConfig& config,
                                               const BackboneOptions& options) {
  // No config.json is published beside these checkpoints: nothing to check it against.
  return make_video_vit_backbone(name, config, options, vjepa1_module_tensors,
                                 architecture_text(config), HubConfigExpectation{},
                                 vjepa1_input_from(name, config, options.extra));
}

std::vector<BackboneInfo> vjepa1_backbones() {
  return family_backbones(
      vjepa1_sizes(), "vjepa1",
      [](const std::string& name, const BackboneOptions& options) {
        return make_vjepa1_backbone(name, vjepa1_config(name), options);
      },
      vjepa1_family_options());
}

}  // namespace vidprobe::backbones
