#include "vidprobe/backbones/vjepa/vjepa2.h"

#include "vidprobe/backbones/family_support.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones {
namespace {

struct VJEPA2Size {
  std::string name;
  int width, depth, heads;
  double mlp_ratio;
  int crop;
  std::string description;
};

// facebook/vjepa2-*: patch 16, tubelet 2, trained on 64-frame clips.
const std::vector<VJEPA2Size>& vjepa2_sizes() {
  // ViT-g's MLP ratio is 48 / 11 (hidden 6144), written as the hub configs write it.
  static const std::vector<VJEPA2Size> sizes = {
      {"vjepa2-vitl-fpc64-256", 1024, 24, 16, 4.0, 256,
       "V-JEPA 2 ViT-L, 3D RoPE, 256 px (facebook/vjepa2-vitl-fpc64-256)"},
      {"vjepa2-vith-fpc64-256", 1280, 32, 16, 4.0, 256,
       "V-JEPA 2 ViT-H, 3D RoPE, 256 px (facebook/vjepa2-vith-fpc64-256)"},
      {"vjepa2-vitg-fpc64-256", 1408, 40, 22, 4.363636363636363, 256,
       "V-JEPA 2 ViT-g, 3D RoPE, 256 px (facebook/vjepa2-vitg-fpc64-256)"},
      {"vjepa2-vitg-fpc64-384", 1408, 40, 22, 4.363636363636363, 384,
       "V-JEPA 2 ViT-g, 3D RoPE, 384 px (facebook/vjepa2-vitg-fpc64-384)"},
  };
  return sizes;
}

std::string architecture_text(const VideoViTConfig& c) {
  return "V-JEPA 2 (width " + std::to_string(c.vit.width) + ", " + std::to_string(c.vit.depth) +
         " blocks, " + std::to_string(c.vit.heads) + " heads, MLP " +
         std::to_string(nn::feed_forward_width(c.vit)) + ", tubelet " + std::to_string(c.tubelet) +
         " x " + std::to_string(c.vit.patch_size) + " x " + std::to_string(c.vit.patch_size) + ")";
}

void hub_to_module_names(TensorMap& t, const VideoViTConfig& config) {
  t.erase("encoder.layernorm.weight");
  t.erase("encoder.layernorm.bias");
  rename_key(t, "encoder.embeddings.patch_embeddings.proj.weight", "patch_embed.weight");
  rename_key(t, "encoder.embeddings.patch_embeddings.proj.bias", "patch_embed.bias");
  for (int i = 0; i < config.vit.depth; ++i) {
    const std::string hub = "encoder.layer." + std::to_string(i) + ".";
    const std::string own = "blocks." + std::to_string(i) + ".";
    for (const std::string part : {"weight", "bias"}) {
      fuse_keys(t,
                {hub + "attention.query." + part, hub + "attention.key." + part,
                 hub + "attention.value." + part},
                own + "attn.qkv." + part);
      rename_key(t, hub + "attention.proj." + part, own + "attn.proj." + part);
      for (const std::string name : {"norm1", "norm2", "mlp.fc1", "mlp.fc2"})
        rename_key(t, hub + name + "." + part, own + name + "." + part);
    }
  }
}

// transformers' VJEPA2Config keys (crop_size is the input size; the RoPE layout does not show it
// in the weights).
HubConfigExpectation hub_config(const VideoViTConfig& c) {
  return {.model_types = {"vjepa2"},
          .fields = {{"hidden_size", c.vit.width},
                     {"num_hidden_layers", c.vit.depth},
                     {"num_attention_heads", c.vit.heads},
                     {"mlp_ratio", c.vit.mlp_ratio},
                     {"patch_size", c.vit.patch_size},
                     {"tubelet_size", c.tubelet},
                     {"crop_size", c.vit.image_size},
                     {"layer_norm_eps", c.vit.norm_eps}}};
}

}  // namespace

VideoViTConfig vjepa2_config(const std::string& name) {
  const auto& size = find_size(vjepa2_sizes(), name, "V-JEPA 2");
  VideoViTConfig config;
  config.vit.image_size = size.crop;
  config.vit.patch_size = 16;
  config.vit.width = size.width;
  config.vit.depth = size.depth;
  config.vit.heads = size.heads;
  config.vit.mlp_ratio = size.mlp_ratio;
  config.vit.norm_eps = 1e-6;
  config.vit.layer_scale = false;
  config.tubelet = 2;
  config.frames = 64;
  config.positions = VideoPositions::kRotary3d;
  return config;
}

ShapeMap vjepa2_hub_layout(const VideoViTConfig& c) {
  const int64_t d = c.vit.width, p = c.vit.patch_size;
  ShapeMap layout = {
      {"encoder.embeddings.patch_embeddings.proj.weight", {d, 3, c.tubelet, p, p}},
      {"encoder.embeddings.patch_embeddings.proj.bias", {d}},
      {"encoder.layernorm.weight", {d}},
      {"encoder.layernorm.bias", {d}},
  };
  for (int i = 0; i < c.vit.depth; ++i) {
    const std::string b = "encoder.layer." + std::to_string(i) + ".";
    for (const std::string name : {"query", "key", "value", "proj"}) {
      layout[b + "attention." + name + ".weight"] = {d, d};
      layout[b + "attention." + name + ".bias"] = {d};
    }
    add_norm_and_mlp_layout(layout, b, c);
  }
  return layout;
}

TensorMap vjepa2_module_tensors(TensorMap checkpoint, const VideoViTConfig& config,
                                const std::string& source) {
  auto tensors = select_backbone_tensors(std::move(checkpoint),
                                         {{"vjepa2."}, {"predictor.", "pooler.", "classifier."}});
  require_layout(tensors, vjepa2_hub_layout(config), source,
                 architecture_text(config) + " in the transformers layout");
  hub_to_module_names(tensors, config);
  return tensors;
}

std::unique_ptr<Backbone> make_vjepa2_backbone(const std::string& name,
                                               const VideoViTConfig& config,
                                               const BackboneOptions& options) {
  return make_video_vit_backbone(name, config, options, vjepa2_module_tensors,
                                 architecture_text(config), hub_config(config));
}

std::vector<BackboneInfo> vjepa2_backbones() {
  return family_backbones(vjepa2_sizes(), "vjepa2",
                          [](const std::string& name, const BackboneOptions& options) {
                            return make_vjepa2_backbone(name, vjepa2_config(name), options);
                          });
}

}  // namespace vidprobe::backbones
