#include "vidprobe/backbones/videomae/videomae.h"

#include "vidprobe/backbones/family_support.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones {
namespace {

struct VideoMAESize {
  std::string name;
  int width, depth, heads;
  std::string description;
};

// MCG-NJU/videomae-{base,large,huge}*: patch 16, tubelet 2, 16 frames at 224 px.
const std::vector<VideoMAESize>& videomae_sizes() {
  static const std::vector<VideoMAESize> sizes = {
      {"videomae-base", 768, 12, 12,
       "VideoMAE ViT-B, tubelet 2x16x16, 16 frames (MCG-NJU/videomae-base)"},
      {"videomae-large", 1024, 24, 16,
       "VideoMAE ViT-L, tubelet 2x16x16, 16 frames (MCG-NJU/videomae-large)"},
      {"videomae-huge", 1280, 32, 16,
       "VideoMAE ViT-H, tubelet 2x16x16, 16 frames (MCG-NJU/videomae-huge-finetuned-kinetics)"},
  };
  return sizes;
}

std::string architecture_text(const VideoViTConfig& c) {
  return "VideoMAE (width " + std::to_string(c.vit.width) + ", " + std::to_string(c.vit.depth) +
         " blocks, " + std::to_string(c.vit.heads) + " heads, tubelet " +
         std::to_string(c.tubelet) + " x " + std::to_string(c.vit.patch_size) + " x " +
         std::to_string(c.vit.patch_size) + ")";
}

void hub_to_module_names(TensorMap& t, const VideoViTConfig& config) {
  rename_key(t, "embeddings.patch_embeddings.projection.weight", "patch_embed.weight");
  rename_key(t, "embeddings.patch_embeddings.projection.bias", "patch_embed.bias");
  for (int i = 0; i < config.vit.depth; ++i) {
    const std::string hub = "encoder.layer." + std::to_string(i) + ".";
    const std::string own = "blocks." + std::to_string(i) + ".";
    const std::string attention = hub + "attention.attention.";
    // The key projection has no bias: the fused bias holds zeros there.
    auto q_bias = t.at(attention + "q_bias");
    t[attention + "k_bias"] = torch::zeros_like(q_bias);
    fuse_keys(t, {attention + "query.weight", attention + "key.weight", attention + "value.weight"},
              own + "attn.qkv.weight");
    fuse_keys(t, {attention + "q_bias", attention + "k_bias", attention + "v_bias"},
              own + "attn.qkv.bias");
    for (const std::string part : {"weight", "bias"}) {
      rename_key(t, hub + "attention.output.dense." + part, own + "attn.proj." + part);
      rename_key(t, hub + "layernorm_before." + part, own + "norm1." + part);
      rename_key(t, hub + "layernorm_after." + part, own + "norm2." + part);
      rename_key(t, hub + "intermediate.dense." + part, own + "mlp.fc1." + part);
      rename_key(t, hub + "output.dense." + part, own + "mlp.fc2." + part);
    }
  }
}

// transformers' VideoMAEConfig keys.
HubConfigExpectation hub_config(const VideoViTConfig& c) {
  return {.model_types = {"videomae"},
          .fields = {{"hidden_size", c.vit.width},
                     {"num_hidden_layers", c.vit.depth},
                     {"num_attention_heads", c.vit.heads},
                     {"intermediate_size", nn::feed_forward_width(c.vit)},
                     {"patch_size", c.vit.patch_size},
                     {"tubelet_size", c.tubelet},
                     {"image_size", c.vit.image_size},
                     {"layer_norm_eps", c.vit.norm_eps}}};
}

}  // namespace

VideoViTConfig videomae_config(const std::string& name) {
  const auto& size = find_size(videomae_sizes(), name, "VideoMAE");
  VideoViTConfig config;
  config.vit.image_size = 224;
  config.vit.patch_size = 16;
  config.vit.width = size.width;
  config.vit.depth = size.depth;
  config.vit.heads = size.heads;
  config.vit.mlp_ratio = 4.0;
  config.vit.norm_eps = 1e-12;
  config.vit.layer_scale = false;
  config.tubelet = 2;
  config.frames = 16;
  config.positions = VideoPositions::kSinusoidTable;
  return config;
}

ShapeMap videomae_hub_layout(const VideoViTConfig& c) {
  const int64_t d = c.vit.width, p = c.vit.patch_size, ff = nn::feed_forward_width(c.vit);
  ShapeMap layout = {
      {"embeddings.patch_embeddings.projection.weight", {d, 3, c.tubelet, p, p}},
      {"embeddings.patch_embeddings.projection.bias", {d}},
  };
  for (int i = 0; i < c.vit.depth; ++i) {
    const std::string b = "encoder.layer." + std::to_string(i) + ".";
    for (const std::string name : {"query", "key", "value"})
      layout[b + "attention.attention." + name + ".weight"] = {d, d};
    layout[b + "attention.attention.q_bias"] = {d};
    layout[b + "attention.attention.v_bias"] = {d};
    layout[b + "attention.output.dense.weight"] = {d, d};
    layout[b + "attention.output.dense.bias"] = {d};
    for (const std::string norm : {"layernorm_before", "layernorm_after"}) {
      layout[b + norm + ".weight"] = {d};
      layout[b + norm + ".bias"] = {d};
    }
    layout[b + "intermediate.dense.weight"] = {ff, d};
    layout[b + "intermediate.dense.bias"] = {ff};
    layout[b + "output.dense.weight"] = {d, ff};
    layout[b + "output.dense.bias"] = {d};
  }
  return layout;
}

TensorMap videomae_module_tensors(TensorMap checkpoint, const VideoViTConfig& config,
                                  const std::string& source) {
  auto tensors = select_backbone_tensors(
      std::move(checkpoint),
      {{"videomae."},
       {"classifier.", "fc_norm.", "decoder.", "encoder_to_decoder.", "mask_token"}});
  auto layout = videomae_hub_layout(config);
  if (tensors.contains("layernorm.weight") || tensors.contains("layernorm.bias")) {
    layout["layernorm.weight"] = {config.vit.width};
    layout["layernorm.bias"] = {config.vit.width};
  }
  require_layout(tensors, layout, source,
                 architecture_text(config) + " in the transformers layout");
  tensors.erase("layernorm.weight");
  tensors.erase("layernorm.bias");
  hub_to_module_names(tensors, config);
  return tensors;
}

std::unique_ptr<Backbone> make_videomae_backbone(const std::string& name,
                                                 const VideoViTConfig& config,
                                                 const BackboneOptions& options) {
  return make_video_vit_backbone(name, config, options, videomae_module_tensors,
                                 architecture_text(config), hub_config(config));
}

std::vector<BackboneInfo> videomae_backbones() {
  return family_backbones(videomae_sizes(), "videomae",
                          [](const std::string& name, const BackboneOptions& options) {
                            return make_videomae_backbone(name, videomae_config(name), options);
                          });
}

}  // namespace vidprobe::backbones
