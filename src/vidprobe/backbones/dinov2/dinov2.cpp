#include "vidprobe/backbones/dinov2/dinov2.h"

#include <tuple>

#include "vidprobe/backbones/baselines/baselines.h"
#include "vidprobe/backbones/checkpoint_config.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"

namespace vidprobe::backbones {
namespace {

std::string architecture_text(const nn::ViTConfig& c) {
  return "DINOv2 (width " + std::to_string(c.width) + ", " + std::to_string(c.depth) + " blocks, " +
         std::to_string(c.heads) + " heads, patch " + std::to_string(c.patch_size) + ", " +
         std::to_string(c.register_tokens) + " registers, position grid " +
         std::to_string(c.image_size / c.patch_size) + "^2" + (c.swiglu ? ", SwiGLU" : "") + ")";
}

// facebookresearch/dinov2 names equal the ViT module's except these two.
bool is_original_layout(const TensorMap& tensors) {
  return tensors.contains("patch_embed.proj.weight");
}

void hub_to_module_names(TensorMap& t, const nn::ViTConfig& config) {
  t.erase("embeddings.mask_token");  // used in self-supervised training only
  rename_key(t, "embeddings.cls_token", "cls_token");
  rename_key(t, "embeddings.position_embeddings", "pos_embed");
  if (config.register_tokens > 0) rename_key(t, "embeddings.register_tokens", "register_tokens");
  for (const std::string part : {"weight", "bias"}) {
    rename_key(t, "embeddings.patch_embeddings.projection." + part, "patch_embed." + part);
    rename_key(t, "layernorm." + part, "norm." + part);
  }
  for (int i = 0; i < config.depth; ++i) {
    const std::string hub = "encoder.layer." + std::to_string(i) + ".";
    const std::string own = "blocks." + std::to_string(i) + ".";
    for (const std::string part : {"weight", "bias"}) {
      fuse_keys(t,
                {hub + "attention.attention.query." + part, hub + "attention.attention.key." + part,
                 hub + "attention.attention.value." + part},
                own + "attn.qkv." + part);
      rename_key(t, hub + "attention.output.dense." + part, own + "attn.proj." + part);
      rename_key(t, hub + "norm1." + part, own + "norm1." + part);
      rename_key(t, hub + "norm2." + part, own + "norm2." + part);
      if (config.swiglu) {
        rename_key(t, hub + "mlp.weights_in." + part, own + "mlp.w12." + part);
        rename_key(t, hub + "mlp.weights_out." + part, own + "mlp.w3." + part);
      } else {
        rename_key(t, hub + "mlp.fc1." + part, own + "mlp.fc1." + part);
        rename_key(t, hub + "mlp.fc2." + part, own + "mlp.fc2." + part);
      }
    }
    rename_key(t, hub + "layer_scale1.lambda1", own + "ls1.gamma");
    rename_key(t, hub + "layer_scale2.lambda1", own + "ls2.gamma");
  }
}

// transformers' Dinov2Config / Dinov2WithRegistersConfig keys.
HubConfigExpectation hub_config(const nn::ViTConfig& c) {
  return {.model_types = {c.register_tokens > 0 ? "dinov2_with_registers" : "dinov2"},
          .fields = {{"hidden_size", c.width},
                     {"num_hidden_layers", c.depth},
                     {"num_attention_heads", c.heads},
                     {"mlp_ratio", c.mlp_ratio},
                     {"patch_size", c.patch_size},
                     {"image_size", c.image_size},
                     {"layer_norm_eps", c.norm_eps},
                     {"use_swiglu_ffn", c.swiglu},
                     {"num_register_tokens", c.register_tokens}}};
}

}  // namespace

// The original names, derived from the transformers layout through the same renaming (shapes only).
ShapeMap dinov2_original_layout(const nn::ViTConfig& config) {
  auto tensors = meta_tensors(dinov2_hub_layout(config));
  hub_to_module_names(tensors, config);
  ShapeMap layout = shapes_of(tensors);
  const int64_t d = config.width, p = config.patch_size;
  layout.erase("patch_embed.weight");
  layout.erase("patch_embed.bias");
  layout["patch_embed.proj.weight"] = {d, 3, p, p};
  layout["patch_embed.proj.bias"] = {d};
  layout["mask_token"] = {1, d};
  return layout;
}

namespace {

class Dinov2Backbone final : public Backbone {
 public:
  Dinov2Backbone(std::string name, const nn::ViTConfig& config, const BackboneOptions& options)
      : name_(std::move(name)),
        config_(config),
        settings_(dinov2_options_from(name_, config_.patch_size, options.extra)) {
    const bool load = !options.weights.empty() || !options.random_init;
    // Checked before the model is built, so that a wrong checkpoint fails fast.
    TensorMap tensors;
    if (load) require_checkpoint_config_matches(options.weights, hub_config(config_), name_);
    if (load)
      tensors =
          dinov2_module_tensors(read_checkpoint(options.weights, name_), config_, options.weights);
    torch::manual_seed(static_cast<int64_t>(options.seed));
    vit_ = nn::ViT(config_);
    if (load) load_module_strict(*vit_, tensors, options.weights, architecture_text(config_));
    vit_->eval();
    vit_->to(options.device, options.dtype);
    spec_.patch_size = config_.patch_size;
    spec_.height = settings_.height;
    spec_.width = settings_.width;
  }

  std::string name() const override { return name_; }
  InputSpec input_spec() const override { return spec_; }
  int num_layers() const override { return config_.depth; }
  int feature_dim() const override { return config_.width; }
  ExtractionPoint default_point() const override { return point_at_layer(config_.depth - 1); }
  void to(torch::Device device, torch::Dtype dtype) override { vit_->to(device, dtype); }

  FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) override {
    check_clip(clip, spec_, name_);
    const int layer = resolve_layer(point, config_.depth, config_.depth - 1, name_);
    torch::NoGradGuard no_grad;
    const auto& weight = vit_->patch_embed->weight;
    // Normalised in float32, then cast: the same pixels as the reference preprocessing.
    auto x =
        normalize_clip(clip.to(weight.device(), torch::kFloat32), spec_).to(weight.scalar_type());
    auto features = vit_->patch_features(x, {layer}, settings_.final_norm).front();
    return {features, {clip.size(0), features.size(2), features.size(3)}};
  }

 private:
  std::string name_;
  nn::ViTConfig config_;
  Dinov2Options settings_;  // parsed before the checkpoint is read, so a bad value fails fast
  nn::ViT vit_{nullptr};
  InputSpec spec_;
};

}  // namespace

Dinov2Options dinov2_options_from(const std::string& backbone, int patch_size,
                                  const std::map<std::string, std::string>& extra) {
  require_known_extra_options(backbone, extra, dinov2_family_options().keys);
  Dinov2Options options{.height = 16 * patch_size, .width = 16 * patch_size};
  if (const auto it = extra.find("size"); it != extra.end()) {
    std::tie(options.height, options.width) = parse_height_width(it->second, "--backbone-opt size");
    require(options.height % patch_size == 0 && options.width % patch_size == 0,
            "--backbone-opt size must be HxW in multiples of " + std::to_string(patch_size) +
                " (e.g. 420x728), got '" + it->second + "'");
  }
  read_zero_one_option(extra, "final_norm", options.final_norm);
  return options;
}

FamilyOptions dinov2_family_options() {
  return {
      .keys = {"size", "final_norm"},
      .parse = [](const std::string& backbone, const std::map<std::string, std::string>& extra) {
        dinov2_options_from(backbone, dinov2_config(backbone).patch_size, extra);
      }};
}

ShapeMap dinov2_hub_layout(const nn::ViTConfig& c) {
  const int64_t d = c.width, p = c.patch_size, grid = c.image_size / c.patch_size;
  const int64_t ff = nn::feed_forward_width(c);
  ShapeMap layout = {
      {"embeddings.cls_token", {1, 1, d}},
      {"embeddings.mask_token", {1, d}},
      {"embeddings.position_embeddings", {1, 1 + grid * grid, d}},
      {"embeddings.patch_embeddings.projection.weight", {d, 3, p, p}},
      {"embeddings.patch_embeddings.projection.bias", {d}},
      {"layernorm.weight", {d}},
      {"layernorm.bias", {d}},
  };
  if (c.register_tokens > 0) layout["embeddings.register_tokens"] = {1, c.register_tokens, d};
  for (int i = 0; i < c.depth; ++i) {
    const std::string b = "encoder.layer." + std::to_string(i) + ".";
    for (const std::string name : {"query", "key", "value"}) {
      layout[b + "attention.attention." + name + ".weight"] = {d, d};
      layout[b + "attention.attention." + name + ".bias"] = {d};
    }
    layout[b + "attention.output.dense.weight"] = {d, d};
    layout[b + "attention.output.dense.bias"] = {d};
    for (const std::string norm : {"norm1", "norm2"}) {
      layout[b + norm + ".weight"] = {d};
      layout[b + norm + ".bias"] = {d};
    }
    layout[b + "layer_scale1.lambda1"] = {d};
    layout[b + "layer_scale2.lambda1"] = {d};
    if (c.swiglu) {
      layout[b + "mlp.weights_in.weight"] = {2 * ff, d};
      layout[b + "mlp.weights_in.bias"] = {2 * ff};
      layout[b + "mlp.weights_out.weight"] = {d, ff};
      layout[b + "mlp.weights_out.bias"] = {d};
    } else {
      layout[b + "mlp.fc1.weight"] = {ff, d};
      layout[b + "mlp.fc1.bias"] = {ff};
      layout[b + "mlp.fc2.weight"] = {d, ff};
      layout[b + "mlp.fc2.bias"] = {d};
    }
  }
  return layout;
}

TensorMap dinov2_module_tensors(TensorMap checkpoint, const nn::ViTConfig& config,
                                const std::string& source) {
  auto tensors = select_backbone_tensors(std::move(checkpoint),
                                         {{"dinov2.", "dinov2_with_registers."}, {"classifier."}});
  if (is_original_layout(tensors)) {
    require_layout(tensors, dinov2_original_layout(config), source,
                   architecture_text(config) + " in the facebookresearch/dinov2 layout");
    tensors.erase("mask_token");
    rename_key(tensors, "patch_embed.proj.weight", "patch_embed.weight");
    rename_key(tensors, "patch_embed.proj.bias", "patch_embed.bias");
    return tensors;
  }
  require_layout(tensors, dinov2_hub_layout(config), source,
                 architecture_text(config) + " in the transformers layout");
  hub_to_module_names(tensors, config);
  return tensors;
}

std::unique_ptr<Backbone> make_dinov2_backbone(const std::string& name, const nn::ViTConfig& config,
                                               const BackboneOptions& options) {
  return std::make_unique<Dinov2Backbone>(name, config, options);
}

std::vector<BackboneInfo> dinov2_backbones() {
  std::vector<RegistryRow> rows;
  for (const auto& dims : dinov2_sizes())
    for (const bool registers : {false, true})
      rows.push_back({dinov2_registry_name(dims, registers),
                      "DINOv2 ViT-" + dims.letter + "/14" + (registers ? " with 4 registers" : "") +
                          " (facebook/dinov2-" + (registers ? "with-registers-" : "") + dims.hub +
                          "), per frame"});
  return family_backbones(
      rows, "dinov2",
      [](const std::string& name, const BackboneOptions& options) {
        return make_dinov2_backbone(name, dinov2_config(name), options);
      },
      dinov2_family_options());
}

}  // namespace vidprobe::backbones
