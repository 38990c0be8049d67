#include "vidprobe/backbones/cogvideox/aether.h"

#include "vidprobe/core/error.h"

namespace vidprobe::backbones::cogvideox {
namespace {

const std::vector<std::string>& aether_option_keys() {
  static const std::vector<std::string> keys = [] {
    auto all = cogvideox_option_keys();
    all.push_back("transformer");
    return all;
  }();
  return keys;
}

FeatureOptions aether_feature_options(const std::map<std::string, std::string>& extra) {
  return feature_options_with_keys(kAetherName, extra, aether_option_keys());
}

}  // namespace

ChannelLayout aether_layout() {
  return {.latent = kAetherLatentChannels,
          .geometry = kAetherLatentChannels + kAetherRaymapChannels,
          .image_condition = true,
          .camera = kAetherRaymapChannels,
          .reconstruction_steps = kAetherReconstructionSteps};
}

TransformerConfig aether_transformer_config() {
  auto config = transformer_config("cogvideox-5b-i2v");
  const auto layout = aether_layout();
  config.in_channels = layout.input_channels();
  config.out_channels = layout.output_channels();
  config.rope_time_scale = kAetherRopeTimeScale;
  return config;
}

FamilyOptions aether_family_options() {
  return {.keys = aether_option_keys(),
          .parse = [](const std::string&, const std::map<std::string, std::string>& extra) {
            aether_feature_options(extra);
          }};
}

std::unique_ptr<Backbone> make_aether_backbone(const BackboneOptions& options) {
  const auto feature_options = aether_feature_options(options.extra);
  if (options.weights.empty()) {
    require(options.random_init,
            std::string(kAetherName) +
                " needs --weights (a CogVideoX-5B-I2V diffusers directory with AetherV1's "
                "transformer/, or --backbone-opt transformer=DIR for it)");
    return random_cogvideox_backbone(kAetherName, aether_transformer_config(), options,
                                     feature_options, aether_layout());
  }
  return load_aether_backbone(options, /*with_decoder=*/false);
}

std::unique_ptr<CogVideoXBackbone> load_aether_backbone(const BackboneOptions& options,
                                                        bool with_decoder) {
  const auto feature_options = aether_feature_options(options.extra);
  // The transformer's size comes from its config.json; its channels are checked against the
  // layout by the backbone.
  const auto files = locate_model_files(options.weights, feature_options.transformer);
  return load_cogvideox_backbone(
      kAetherName, options, feature_options, files,
      FineTune{.rope_time_scale = kAetherRopeTimeScale, .layout = aether_layout()}, with_decoder);
}

std::vector<BackboneInfo> aether_backbones() {
  // One row: the AetherV1 release (its transformer's size is read from its config.json).
  const std::vector<RegistryRow> rows = {
      {kAetherName,
       "AetherV1 (AetherWorldModel/AetherV1, a CogVideoX-5B-I2V fine-tune): 4-step DPM "
       "reconstruction of the geometry latents, then block states of the noised RGB | geometry "
       "latents (VidFM3D's videogen protocol)"}};
  return family_backbones(
      rows, "aether",
      [](const std::string&, const BackboneOptions& options) {
        return make_aether_backbone(options);
      },
      aether_family_options());
}

}  // namespace vidprobe::backbones::cogvideox
