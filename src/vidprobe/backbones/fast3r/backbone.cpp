#include "vidprobe/backbones/fast3r/backbone.h"

#include <charconv>
#include <filesystem>
#include <tuple>

#include "vidprobe/backbones/checkpoint_config.h"
#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/nn/linear.h"

namespace vidprobe::backbones::fast3r {
namespace fs = std::filesystem;
namespace {

const std::vector<std::string>& option_keys() {
  static const std::vector<std::string> keys{"size", "image_ids", "image_index_seed"};
  return keys;
}

std::uint64_t parse_seed(const std::string& text) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  require(!text.empty() && ec == std::errc() && ptr == end,
          "--backbone-opt image_index_seed must be a non-negative integer below 2^64, got '" +
              text + "'");
  return value;
}

// The registered size, or the config.json that describes the checkpoint.
Fast3rConfig config_for(const std::string& name, const std::string& weights) {
  const auto& size = find_size(fast3r_sizes(), name, "Fast3R");
  if (weights.empty()) return size.config;
  const auto file = checkpoint_config_path(weights);
  if (!file) return size.config;
  return config_from_json(read_json_file(*file), file->string());
}

}  // namespace

FamilyOptions family_options() {
  // The parsed struct is dropped: the CLI only checks the settings before any work.
  return {.keys = option_keys(), .parse = feature_options_from};
}

FeatureOptions feature_options_from(const std::string& backbone,
                                    const std::map<std::string, std::string>& extra) {
  require_known_extra_options(backbone, extra, option_keys());
  FeatureOptions options;
  if (const auto found = extra.find("size"); found != extra.end())
    std::tie(options.height, options.width) =
        parse_height_width(found->second, "--backbone-opt size");
  if (const auto found = extra.find("image_ids"); found != extra.end()) {
    require(found->second == "random" || found->second == "sequential",
            "--backbone-opt image_ids must be random or sequential, got '" + found->second + "'");
    options.random_image_ids = found->second == "random";
  }
  if (const auto found = extra.find("image_index_seed"); found != extra.end())
    options.image_index_seed = parse_seed(found->second);
  return options;
}

Fast3rBackbone::Fast3rBackbone(std::string name, Fast3r model, FeatureOptions options)
    : name_(std::move(name)), model_(std::move(model)), options_(options) {
  const int patch = model_->config.encoder.patch_size;
  require(options_.height % patch == 0 && options_.width % patch == 0,
          name_ + ": --backbone-opt size " + std::to_string(options_.height) + "x" +
              std::to_string(options_.width) + " must be multiples of the patch size " +
              std::to_string(patch));
  require(model_->config.encoder.patch_embed == PatchEmbed::kDust3r ||
              options_.width >= options_.height,
          name_ +
              ": a ManyAR_PatchEmbed model (encoder_args.patch_embed_cls) transposes portrait "
              "frames, which vidprobe does not implement; give a landscape size");
  model_->eval();
}

InputSpec Fast3rBackbone::input_spec() const {
  InputSpec spec;
  spec.height = options_.height;
  spec.width = options_.width;
  spec.mean = {0.5, 0.5, 0.5};  // dust3r's ImgNorm
  spec.std = {0.5, 0.5, 0.5};
  spec.patch_size = model_->config.encoder.patch_size;
  return spec;
}

ExtractionPoint Fast3rBackbone::default_point() const {
  return point_at_layer(model_->config.maps() - 1);
}

void Fast3rBackbone::to(torch::Device device, torch::Dtype dtype) {
  model_->to(device, dtype);
}

torch::Tensor Fast3rBackbone::image_indices(int64_t frames, const ExtractionPoint& point) const {
  const bool random =
      options_.random_image_ids.value_or(model_->config.decoder.random_image_idx_embedding);
  if (!random) {
    require(frames <= kImageIndices, name_ + ": sequential image indices cover at most " +
                                         std::to_string(kImageIndices) + " frames, got " +
                                         std::to_string(frames));
    return torch::arange(frames, torch::kLong);
  }
  return random_image_indices(frames, options_.image_index_seed.value_or(point.noise_seed));
}

std::vector<FeatureMaps> Fast3rBackbone::extract_many(const torch::Tensor& clip,
                                                      const std::vector<ExtractionPoint>& points) {
  check_clip(clip, input_spec(), name_);
  const auto& weight = model_->encoder->proj->weight;
  const auto images =
      ((clip.to(torch::kFloat32) - 0.5) / 0.5).to(weight.device(), weight.scalar_type());
  const int64_t frames = clip.size(0);
  const int64_t h = clip.size(2) / input_spec().patch_size,
                w = clip.size(3) / input_spec().patch_size;
  // One pass per distinct image-index draw, up to the deepest map asked for there.
  std::map<std::vector<int64_t>, std::vector<std::size_t>> groups;
  std::vector<int> layers(points.size());
  std::vector<torch::Tensor> indices(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    layers[i] = resolve_layer(points[i], num_layers(), default_point().layer, name_);
    indices[i] = image_indices(frames, points[i]);
    const auto* data = indices[i].data_ptr<int64_t>();
    groups[std::vector<int64_t>(data, data + frames)].push_back(i);
  }
  std::vector<FeatureMaps> results(points.size());
  torch::NoGradGuard no_grad;
  for (const auto& [key, members] : groups) {
    int deepest = 0;
    for (auto i : members) deepest = std::max(deepest, layers[i]);
    const auto maps = model_(images, indices[members.front()], deepest);
    for (auto i : members) {
      const auto& map = maps[static_cast<std::size_t>(layers[i])];
      results[i].features =
          map.reshape({frames, h, w, map.size(-1)}).permute({0, 3, 1, 2}).to(torch::kFloat32);
      results[i].native_grid = {frames, h, w};
    }
  }
  return results;
}

FeatureMaps Fast3rBackbone::extract(const torch::Tensor& clip, const ExtractionPoint& point) {
  return extract_many(clip, {point}).front();
}

std::unique_ptr<Backbone> make_fast3r_backbone(const std::string& name,
                                               const BackboneOptions& options,
                                               const FeatureOptions& feature_options) {
  const auto config = config_for(name, options.weights);
  if (options.weights.empty()) {
    require(options.random_init,
            name +
                " needs --weights (the hub directory of jedyang97/Fast3R_ViT_Large_512 with "
                "model.safetensors and config.json, or the safetensors file)");
    torch::manual_seed(options.seed);
    Fast3r model(config);
    model->to(options.device, options.dtype);
    return std::make_unique<Fast3rBackbone>(name, std::move(model), feature_options);
  }
  // The published file also holds the prediction heads (downstream_head.*, and
  // downstream_head_local.* with the local head): dropped; every other key must be the
  // encoder's or the decoder's.
  auto tensors =
      select_backbone_tensors(read_checkpoint(options.weights, name),
                              {.wrapper_prefixes = {}, .ignored_prefixes = head_prefixes()});
  Fast3r model = [&] {  // every parameter is loaded next: none drawn first
    nn::UndrawnLinears undrawn;
    return Fast3r(config);
  }();
  load_module_strict(*model, tensors, options.weights, architecture_text(config));
  tensors.clear();
  model->to(options.device, options.dtype);
  return std::make_unique<Fast3rBackbone>(name, std::move(model), feature_options);
}

std::vector<BackboneInfo> fast3r_backbones() {
  return family_backbones(
      fast3r_sizes(), "fast3r",
      [](const std::string& name, const BackboneOptions& options) {
        return make_fast3r_backbone(name, options, feature_options_from(name, options.extra));
      },
      family_options());
}

}  // namespace vidprobe::backbones::fast3r
