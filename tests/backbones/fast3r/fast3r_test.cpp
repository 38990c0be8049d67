// Fast3R against the official code (tools/make_fast3r_fixtures.py: CroCoEncoder and Fast3RDecoder
// of facebookresearch/fast3r in a small random configuration): every map the decoder returns, the
// image-index table and draws, the real size's layout, strict loading of the published layout,
// and `vidprobe extract` + `train` from a weights directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/fast3r/backbone.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::fast3r {
namespace {
namespace fs = std::filesystem;
using test_support::error_message;
using ::testing::HasSubstr;

constexpr const char* kName = "fast3r-vitl16-512";

fs::path fixture(const std::string& name) {
  return fs::path(VIDPROBE_TEST_DATA_DIR) / "fast3r" / name;
}

nlohmann::json fixture_json(const std::string& name) {
  return nlohmann::json::parse(read_file(fixture(name)));
}

const TensorMap& reference() {
  static const TensorMap tensors = load_safetensors(fixture("reference.safetensors"));
  return tensors;
}

using test_support::relative_error;

// The published hub layout: model.safetensors and config.json in one directory; the fixture's
// config.json enables the inference attention scale, `inference_scale = false` turns it off there.
fs::path weights_dir(bool inference_scale = true) {
  static const auto make = [](bool scale) {
    const auto d = test_support::fresh_temp_dir(scale ? "fast3r_weights" : "fast3r_weights_plain");
    fs::copy_file(fixture("model.safetensors"), d / "model.safetensors");
    auto config = fixture_json("config.json");
    config["decoder_args"]["attn_bias_for_inference_enabled"] = scale;
    std::ofstream(d / "config.json") << config.dump(2);
    return d;
  };
  static const fs::path with_scale = make(true), without_scale = make(false);
  return inference_scale ? with_scale : without_scale;
}

std::unique_ptr<Backbone> load(const std::map<std::string, std::string>& extra,
                               bool inference_scale = true) {
  BackboneOptions options;
  options.weights = weights_dir(inference_scale).string();
  options.extra = extra;
  return create_backbone(kName, options);
}

torch::Tensor case_clip(const std::string& name) {
  return reference().at(name + ".input").to(torch::kFloat32) / 255.0;
}

ExtractionPoint at(int layer) {
  ExtractionPoint point;
  point.layer = layer;
  return point;
}

// Every returned map of each official case: the encoder's output and every decoder block (the
// last through dec_norm), with the official image indices and attention scale.
TEST(Fast3R, EveryReturnedMapMatchesTheOfficialModules) {
  for (const auto& c : fixture_json("cases.json")) {
    const auto name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    const bool random = c.at("random_image_idx_embedding").get<bool>();
    std::map<std::string, std::string> extra{
        {"size", std::to_string(c.at("height").get<int>()) + "x" +
                     std::to_string(c.at("width").get<int>())},
        {"image_ids", random ? "random" : "sequential"}};
    if (random)
      extra["image_index_seed"] = std::to_string(c.at("image_index_seed").get<uint64_t>());
    auto backbone = load(extra, c.at("attn_bias_for_inference_enabled").get<bool>());
    const auto& fast3r = dynamic_cast<const Fast3rBackbone&>(*backbone);
    const auto clip = case_clip(name);
    const int64_t frames = clip.size(0);
    EXPECT_TRUE(
        torch::equal(fast3r.image_indices(frames, {}), reference().at(name + ".image_ids")));
    std::vector<ExtractionPoint> points;
    for (int i = 0; i < c.at("maps").get<int>(); ++i) points.push_back(at(i));
    const auto maps = backbone->extract_many(clip, points);
    for (std::size_t i = 0; i < maps.size(); ++i) {
      SCOPED_TRACE("map " + std::to_string(i));
      const auto& expected = reference().at(name + ".map" + std::to_string(i));
      const auto& f = maps[i].features;  // (S, C, h, w) -> the official (1, S h w, C)
      EXPECT_LT(relative_error(f.permute({0, 2, 3, 1}).reshape({1, -1, f.size(1)}), expected),
                1e-5);
      EXPECT_EQ(maps[i].native_grid,
                (std::vector<int64_t>{frames, clip.size(2) / 8, clip.size(3) / 8}));
    }
  }
}

// Turning the inference attention scale off (or on) where the official run had it is visible.
TEST(Fast3R, AttentionScaleIsNeeded) {
  const auto c = fixture_json("cases.json").at(0);
  ASSERT_TRUE(c.at("attn_bias_for_inference_enabled").get<bool>());
  auto config = config_from_json(fixture_json("config.json"), "config.json");
  config.decoder.attn_bias_for_inference_enabled = false;
  Fast3r model(config);
  load_module_strict(*model,
                     select_backbone_tensors(load_safetensors(fixture("model.safetensors")), {}),
                     "fixture", "small");
  model->eval();
  torch::NoGradGuard no_grad;
  const auto images = (case_clip("random") - 0.5) / 0.5;
  const auto maps = model(images, reference().at("random.image_ids"), 2);
  EXPECT_GT(relative_error(maps[2], reference().at("random.map2")), 1e-3);
  EXPECT_LT(relative_error(maps[0], reference().at("random.map0")), 1e-5);
}

TEST(Fast3R, ImageIndexTableAndDrawsAreTheOfficialOnes) {
  const auto rows = reference().at("image_idx_rows");
  EXPECT_LT(relative_error(image_index_embedding(rows, 48), reference().at("image_idx_emb")), 1e-6);
  for (const auto& draw : fixture_json("image_ids.json")) {
    const auto frames = draw.at("frames").get<int64_t>();
    SCOPED_TRACE(frames);
    const auto expected = torch::tensor(draw.at("image_ids").get<std::vector<int64_t>>());
    EXPECT_TRUE(torch::equal(
        random_image_indices(frames, draw.at("image_index_seed").get<std::uint64_t>()), expected));
  }
  EXPECT_THAT(error_message([] { random_image_indices(1001, 0); }), HasSubstr("1001"));
}

// The published model's encoder and decoder: parameter and key counts and shapes of the official
// constructor (the published config, on the meta device), and the module's own layout.
TEST(Fast3R, RealSizeLayoutMatchesTheOfficialConstructor) {
  const auto counts = fixture_json("param_counts.json").at(kName);
  const auto& config = fast3r_sizes().at(0).config;
  const auto layout = backbone_layout(config);
  EXPECT_EQ(element_count(layout), counts.at("backbone_parameters").get<int64_t>());
  EXPECT_EQ(static_cast<int64_t>(layout.size()), counts.at("backbone_keys").get<int64_t>());
  for (const auto& [key, shape] : counts.at("shapes").items()) {
    ASSERT_TRUE(layout.contains(key)) << key;
    EXPECT_EQ(layout.at(key), shape.get<Shape>()) << key;
  }
  std::vector<std::string> prefixes;
  for (const auto& prefix : head_prefixes())
    prefixes.push_back(prefix.substr(0, prefix.size() - 1));
  EXPECT_EQ(prefixes, counts.at("head_prefixes").get<std::vector<std::string>>());
  EXPECT_EQ(find_backbone(kName).family, "fast3r");
  const auto small = config_from_json(fixture_json("config.json"), "config.json");
  EXPECT_EQ(module_shapes(*Fast3r(small)), backbone_layout(small));
}

// The published file holds the heads too: dropped; anything else unknown is refused by name.
TEST(Fast3R, LoadsStrictlySkippingOnlyTheHeads) {
  const auto dir = test_support::fresh_temp_dir("fast3r_heads");
  fs::copy_file(fixture("config.json"), dir / "config.json");
  auto tensors = load_safetensors(fixture("model.safetensors"));
  tensors["downstream_head.dpt.head.4.weight"] = torch::zeros({4, 128, 1, 1});
  tensors["downstream_head_local.dpt.head.4.weight"] = torch::zeros({4, 128, 1, 1});
  save_safetensors(dir / "model.safetensors", tensors);
  BackboneOptions options;
  options.weights = dir.string();
  options.extra = {{"size", "32x48"}};
  auto with_heads = create_backbone(kName, options);
  auto plain = load({{"size", "32x48"}});
  const auto clip = case_clip("random");
  EXPECT_TRUE(torch::equal(with_heads->extract(clip, at(2)).features,
                           plain->extract(clip, at(2)).features));

  tensors["encoder.extra.weight"] = torch::zeros({1});
  tensors.erase("decoder.dec_norm.bias");
  save_safetensors(dir / "model.safetensors", tensors);
  const auto message = error_message([&] { create_backbone(kName, options); });
  EXPECT_THAT(message, HasSubstr("encoder.extra.weight"));
  EXPECT_THAT(message, HasSubstr("decoder.dec_norm.bias"));
}

TEST(Fast3R, ConfigJsonIsReadAndUnsupportedFieldsRefused) {
  auto json = fixture_json("config.json");
  const auto config = config_from_json(json, "config.json");
  EXPECT_EQ(config.encoder.patch_size, 8);
  EXPECT_EQ(config.decoder.embed_dim, 48);
  EXPECT_DOUBLE_EQ(config.encoder.rope_base, 100.0);
  EXPECT_TRUE(config.decoder.random_image_idx_embedding);
  const auto refused = [&](const std::string& section, const std::string& key,
                           const nlohmann::json& value) {
    auto changed = json;
    changed[section][key] = value;
    return error_message([&] { config_from_json(changed, "config.json"); });
  };
  EXPECT_THAT(refused("encoder_args", "encoder_type", "dino_v2"), HasSubstr("encoder_type"));
  EXPECT_THAT(refused("decoder_args", "decoder_type", "llama"), HasSubstr("decoder_type"));
  EXPECT_THAT(refused("encoder_args", "pos_embed", "cosine"), HasSubstr("pos_embed"));
  EXPECT_THAT(refused("decoder_args", "qkv_bias", false), HasSubstr("qkv_bias"));
  EXPECT_THAT(refused("decoder_args", "enc_embed_dim", 64), HasSubstr("enc_embed_dim"));
  EXPECT_THAT(refused("decoder_args", "n_layers", 3), HasSubstr("n_layers"));
  EXPECT_THAT(refused("encoder_args", "patch_embed_cls", "PatchEmbed"),
              HasSubstr("patch_embed_cls"));
  // ManyAR_PatchEmbed models take landscape frames only.
  const auto dir = test_support::fresh_temp_dir("fast3r_manyar");
  fs::copy_file(fixture("model.safetensors"), dir / "model.safetensors");
  json["encoder_args"]["patch_embed_cls"] = "ManyAR_PatchEmbed";
  std::ofstream(dir / "config.json") << json.dump();
  BackboneOptions options;
  options.weights = dir.string();
  options.extra = {{"size", "48x32"}};
  EXPECT_THAT(error_message([&] { create_backbone(kName, options); }),
              HasSubstr("patch_embed_cls"));
}

TEST(Fast3R, OptionsAndLayersAreChecked) {
  auto backbone = load({{"size", "32x48"}});
  EXPECT_EQ(backbone->num_layers(), 3);
  EXPECT_EQ(backbone->default_point().layer, 2);
  EXPECT_EQ(backbone->feature_dim(), 48);
  EXPECT_EQ(backbone->input_spec().height, 32);
  EXPECT_THAT(error_message([&] { backbone->extract(case_clip("random"), at(3)); }),
              HasSubstr("outside 0..2"));
  EXPECT_THAT(error_message([] { load({{"size", "30x48"}}); }), HasSubstr("multiples"));
  EXPECT_THAT(error_message([] { load({{"image_ids", "shuffled"}}); }), HasSubstr("image_ids"));
  EXPECT_THAT(error_message([] {
                load({{"image_index_seed", "-1"}});
              }),
              HasSubstr("image_index_seed"));
  EXPECT_THAT(error_message([] { load({{"layer_norm", "1"}}); }), HasSubstr("layer_norm"));
  // Unset, the seed is the point's noise seed: another seed, other indices.
  auto& fast3r = dynamic_cast<Fast3rBackbone&>(*backbone);
  ExtractionPoint other;
  other.noise_seed = 7;
  EXPECT_TRUE(torch::equal(fast3r.image_indices(3, other), random_image_indices(3, 7)));
  EXPECT_FALSE(torch::equal(fast3r.image_indices(3, other), fast3r.image_indices(3, {})));
  const auto real = find_backbone(kName);
  EXPECT_TRUE(real.needs_weights);
  EXPECT_THAT(error_message([] { create_backbone(kName, {}); }), HasSubstr("--weights"));
}

// `vidprobe extract` with the fixture weights writes a cache that `train` trains a probe on.
TEST(Fast3R, ExtractsAndTrainsThroughTheCli) {
  const auto dir = test_support::fresh_temp_dir("fast3r_cli");
  const auto log = dir / "log.txt";
  const auto run = [&](const std::string& arguments) {
    ASSERT_EQ(test_support::run_vidprobe(arguments, log), 0) << arguments << "\n" << read_file(log);
  };
  run("render --family objects --clips 2 --frames 3 --size 64 --seed 5 --out '" +
      (dir / "data").string() + "'");
  run("extract --backbone fast3r-vitl16-512 --weights '" + weights_dir().string() +
      "' --backbone-opt size=32x48 --data '" + (dir / "data").string() +
      "' --frames 3 --gt-size 16 --out '" + (dir / "features").string() + "'");
  ASSERT_EQ(test_support::train_tiny_probe(dir / "features", dir / "run", log), 0)
      << read_file(log);
  EXPECT_TRUE(fs::exists(dir / "run" / "checkpoints")) << read_file(log);
}

}  // namespace
}  // namespace vidprobe::backbones::fast3r
