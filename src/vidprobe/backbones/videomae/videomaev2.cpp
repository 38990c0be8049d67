#include "vidprobe/backbones/videomae/videomaev2.h"

#include "vidprobe/backbones/family_support.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones {
namespace {

struct VideoMAEv2Size {
  std::string name;
  int width, depth, heads, patch;
  double mlp_ratio;
  std::string description;
};

// modeling_finetune.py: vit_{base,large,huge}_patch16_224, vit_giant_patch14_224.
const std::vector<VideoMAEv2Size>& videomaev2_sizes() {
  static const std::vector<VideoMAEv2Size> sizes = {
      {"videomaev2-base", 768, 12, 12, 16, 4.0,
       "VideoMAE V2 ViT-B, tubelet 2x16x16, 16 frames (OpenGVLab/VideoMAEv2-Base)"},
      {"videomaev2-large", 1024, 24, 16, 16, 4.0,
       "VideoMAE V2 ViT-L, tubelet 2x16x16, 16 frames (OpenGVLab/VideoMAEv2-Large)"},
      {"videomaev2-huge", 1280, 32, 16, 16, 4.0,
       "VideoMAE V2 ViT-H, tubelet 2x16x16, 16 frames (OpenGVLab/VideoMAEv2-Huge)"},
      {"videomaev2-giant", 1408, 40, 16, 14, 48.0 / 11.0,
       "VideoMAE V2 ViT-g, tubelet 2x14x14, 16 frames (OpenGVLab/VideoMAEv2-giant)"},
  };
  return sizes;
}

std::string architecture_text(const VideoViTConfig& c) {
  return "VideoMAE V2 (width " + std::to_string(c.vit.width) + ", " + std::to_string(c.vit.depth) +
         " blocks, " + std::to_string(c.vit.heads) + " heads, tubelet " +
         std::to_string(c.tubelet) + " x " + std::to_string(c.vit.patch_size) + " x " +
         std::to_string(c.vit.patch_size) + ")";
}

void official_to_module_names(TensorMap& t, const VideoViTConfig& config) {
  rename_key(t, "patch_embed.proj.weight", "patch_embed.weight");
  rename_key(t, "patch_embed.proj.bias", "patch_embed.bias");
  for (int i = 0; i < config.vit.depth; ++i) {
    const std::string block = "blocks." + std::to_string(i) + ".";
    // The official forward concatenates (q_bias, zeros, v_bias): the key projection has no bias.
    auto q_bias = t.at(block + "attn.q_bias");
    t[block + "attn.k_bias"] = torch::zeros_like(q_bias);
    fuse_keys(t, {block + "attn.q_bias", block + "attn.k_bias", block + "attn.v_bias"},
              block + "attn.qkv.bias");
  }
}

}  // namespace

VideoViTConfig videomaev2_config(const std::string& name) {
  const auto& size = find_size(videomaev2_sizes(), name, "VideoMAE V2");
  VideoViTConfig config;
  config.vit.image_size = 224;
  config.vit.patch_size = size.patch;
  config.vit.width = size.width;
  config.vit.depth = size.depth;
  config.vit.heads = size.heads;
  config.vit.mlp_ratio = size.mlp_ratio;
  config.vit.norm_eps = 1e-6;
  config.vit.layer_scale = false;
  config.tubelet = 2;
  config.frames = 16;
  config.positions = VideoPositions::kSinusoidTable;
  return config;
}

ShapeMap videomaev2_layout(const VideoViTConfig& c) {
  const int64_t d = c.vit.width, p = c.vit.patch_size;
  ShapeMap layout = {
      {"patch_embed.proj.weight", {d, 3, c.tubelet, p, p}},
      {"patch_embed.proj.bias", {d}},
  };
  for (int i = 0; i < c.vit.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    layout[b + "attn.qkv.weight"] = {3 * d, d};
    layout[b + "attn.q_bias"] = {d};
    layout[b + "attn.v_bias"] = {d};
    layout[b + "attn.proj.weight"] = {d, d};
    layout[b + "attn.proj.bias"] = {d};
    add_norm_and_mlp_layout(layout, b, c);
  }
  return layout;
}

TensorMap videomaev2_module_tensors(TensorMap checkpoint, const VideoViTConfig& config,
                                    const std::string& source) {
  // fc_norm / norm / head belong to the classifier, never to a block's output.
  auto tensors = select_backbone_tensors(std::move(checkpoint),
                                         {{"model.", "module."}, {"fc_norm.", "norm.", "head."}});
  require_layout(tensors, videomaev2_layout(config), source,
                 architecture_text(config) + " in the official layout");
  official_to_module_names(tensors, config);
  return tensors;
}

std::unique_ptr<Backbone> make_videomaev2_backbone(const std::string& name,
                                                   const VideoViTConfig& config,
                                                   const BackboneOptions& options) {
  // OpenGVLab publishes its own config.json format, not a transformers one: nothing to check.
  return make_video_vit_backbone(name, config, options, videomaev2_module_tensors,
                                 architecture_text(config), HubConfigExpectation{});
}

std::vector<BackboneInfo> videomaev2_backbones() {
  return family_backbones(videomaev2_sizes(), "videomaev2",
                          [](const std::string& name, const BackboneOptions& options) {
                            return make_videomaev2_backbone(name, videomaev2_config(name), options);
                          });
}

}  // namespace vidprobe::backbones
