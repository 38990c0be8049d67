// VGGT against the reference implementation (facebookresearch/vggt; fixtures written by
// tools/make_vggt_fixtures.py): aggregator tokens of every block and all head outputs of a small
// random model, the real VGGT-1B layout and parameter count, strict rejection of other
// checkpoints, and the `vggt-1b`-style backbone features.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backbones/checkpoint_test_support.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/backbones/vggt/annotate.h"
#include "vidprobe/backbones/vggt/model.h"
#include "vidprobe/probe/probe_model.h"

namespace vidprobe::backbones {
namespace {

using testing::error_message;
using testing::fixture;
using ::testing::HasSubstr;
using testing::relative_error;

nlohmann::json fixture_meta() {
  std::ifstream in(fixture("vggt", "meta.json"));
  return nlohmann::json::parse(in);
}

// The small configuration of the fixture, read from meta.json so that it cannot drift.
VggtConfig small_config() {
  return vggt_config_from_json(fixture_meta().at("small"));
}

TensorMap fixture_io() {
  return load_safetensors(fixture("vggt", "small_io.safetensors"));
}

torch::Tensor fixture_images(const TensorMap& io) {
  return io.at("images_u8").to(torch::kFloat32) / 255;
}

std::string weights_path() {
  return fixture("vggt", "small.safetensors").string();
}

TEST(Vggt, MatchesReferenceAggregatorAndHeads) {
  const auto io = fixture_io();
  auto model = load_vggt_model(weights_path(), small_config());
  torch::NoGradGuard no_grad;
  const auto images = fixture_images(io);
  const auto trunk = model->aggregator(images);
  ASSERT_EQ(trunk.intermediates.size(), 4u);
  EXPECT_EQ(trunk.patch_start, 5);
  double worst = 0;
  for (std::size_t i = 0; i < trunk.intermediates.size(); ++i) {
    const double error =
        relative_error(trunk.intermediates[i], io.at("tokens." + std::to_string(i)));
    EXPECT_LT(error, testing::kParityTolerance) << "block " << i;
    worst = std::max(worst, error);
  }

  const auto out = model->forward(images);
  ASSERT_EQ(out.pose_encodings.size(), 4u);
  for (std::size_t k = 0; k < out.pose_encodings.size(); ++k)
    EXPECT_LT(relative_error(out.pose_encodings[k], io.at("pose_enc." + std::to_string(k))),
              testing::kParityTolerance)
        << "camera iteration " << k;
  const std::vector<std::pair<std::string, torch::Tensor>> outputs = {
      {"pose_enc", out.pose_encoding()},
      {"depth", out.depth.unsqueeze(-1)},
      {"depth_conf", out.depth_conf},
      {"world_points", out.world_points},
      {"world_points_conf", out.world_points_conf}};
  for (const auto& [key, actual] : outputs) {
    ASSERT_EQ(actual.sizes(), io.at(key).sizes()) << key;
    const double error = relative_error(actual, io.at(key));
    EXPECT_LT(error, testing::kParityTolerance) << key;
    worst = std::max(worst, error);
  }
  ::testing::Test::RecordProperty("worst_relative_error", testing::scientific(worst));
}

TEST(Vggt, ReferenceLayoutOfVggt1bMatchesTheReleasedModel) {
  const auto meta = fixture_meta().at("vggt_1b");
  const auto layout = vggt_reference_layout(vggt_1b_config());
  ShapeMap expected;
  for (const auto& [key, shape] : meta.at("layout").items())
    expected[key] = shape.get<std::vector<int64_t>>();
  // Compared as maps, so a failure lists the differing keys.
  EXPECT_EQ(layout.size(), expected.size());
  for (const auto& [key, shape] : expected) {
    const auto it = layout.find(key);
    ASSERT_NE(it, layout.end()) << "missing " << key;
    EXPECT_EQ(it->second, shape) << key;
  }
  EXPECT_EQ(element_count(layout), meta.at("parameters_without_track_head").get<int64_t>());
}

TEST(Vggt, Vggt1bBuiltInCppHasTheReferenceParameterCount) {
  const auto meta = fixture_meta().at("vggt_1b");
  // Real size, random init: ~4.8 GB of float32 for a few seconds. The C++ model has no
  // DINOv2 mask_token (1 x 1024, used in DINOv2's pre-training only; dropped when loading).
  VggtModel model(vggt_1b_config());
  const int64_t mask_token = 1024;
  EXPECT_EQ(probe::count_parameters(*model) + mask_token,
            meta.at("parameters_without_track_head").get<int64_t>());
  EXPECT_EQ(probe::count_parameters(*model) + mask_token +
                meta.at("parameters_per_module").at("track_head").get<int64_t>(),
            meta.at("parameters_total").get<int64_t>());
}

// `train --model vggt-from-features` is VGGT with the patch embedding replaced by a projection of
// the cached features: the same parameters under the same names otherwise.
TEST(Vggt, VggtFromFeaturesIsVggtWithoutItsPatchEmbed) {
  const auto vggt_config = small_config();
  auto config =
      probe::vggt_from_features_config(probe::probe_preset("vidprobe"), vggt_config.depth);
  config.model.width = vggt_config.width;
  config.model.num_blocks = vggt_config.depth;
  config.model.num_heads = vggt_config.heads;
  config.model.num_register_tokens = vggt_config.register_tokens;
  config.heads.dense.features = vggt_config.dpt_features;
  config.heads.dense.out_channels = vggt_config.dpt_out_channels;
  config.heads.camera.trunk_depth = vggt_config.camera_trunk_depth;
  config.heads.camera.iterations = vggt_config.camera_iterations;
  probe::ProbeModel from_features(config, /*feature_dim=*/48);
  VggtModel vggt(vggt_config);
  auto strip = [](ShapeMap shapes, const std::vector<std::string>& prefixes) {
    for (auto it = shapes.begin(); it != shapes.end();) {
      const bool drop = std::any_of(prefixes.begin(), prefixes.end(),
                                    [&](const std::string& p) { return it->first.starts_with(p); });
      it = drop ? shapes.erase(it) : std::next(it);
    }
    return shapes;
  };
  const auto expected = strip(module_shapes(*vggt), {"aggregator.patch_embed."});
  const auto actual =
      strip(module_shapes(*from_features), {"aggregator.input_norm.", "aggregator.input_proj."});
  EXPECT_EQ(actual, expected);
  EXPECT_TRUE(module_shapes(*from_features).contains("aggregator.input_proj.weight"));
}

TEST(Vggt, TrackHeadKeysAreReportedNotLoaded) {
  auto checkpoint = load_safetensors(weights_path());
  checkpoint["track_head.feature_extractor.norm.weight"] = torch::ones({64});
  checkpoint["track_head.tracker.corr_mlp.fc1.weight"] = torch::ones({8, 8});
  const auto result = vggt_module_tensors(checkpoint, small_config(), "ckpt");
  ASSERT_EQ(result.ignored.size(), 1u);
  EXPECT_THAT(result.ignored[0], HasSubstr("track_head.* (2 keys"));
  for (const auto& [key, tensor] : result.module_tensors)
    EXPECT_FALSE(key.starts_with("track_head")) << key;
}

TEST(Vggt, RejectsCheckpointsOfOtherArchitectures) {
  const auto checkpoint = load_safetensors(weights_path());
  // Another size: the real VGGT-1B configuration against the small checkpoint.
  const auto wrong_size = error_message(
      [&] { vggt_module_tensors(checkpoint, vggt_1b_config(), "small.safetensors"); });
  EXPECT_THAT(wrong_size, HasSubstr("small.safetensors"));
  EXPECT_THAT(wrong_size, HasSubstr("VGGT (width 1024"));
  EXPECT_THAT(wrong_size, HasSubstr("aggregator.camera_token: expected [1, 2, 1, 1024]"));

  // A missing key and an unexpected one.
  auto edited = checkpoint;
  edited.erase("camera_head.empty_pose_tokens");
  edited["aggregator.extra_token"] = torch::zeros({3});
  const auto edited_message =
      error_message([&] { vggt_module_tensors(edited, small_config(), "edited"); });
  EXPECT_THAT(edited_message, HasSubstr("camera_head.empty_pose_tokens"));
  EXPECT_THAT(edited_message, HasSubstr("aggregator.extra_token"));

  // A different depth (fewer blocks than the configuration).
  auto deeper = small_config();
  deeper.depth = 5;
  const auto depth_message =
      error_message([&] { vggt_module_tensors(checkpoint, deeper, "small.safetensors"); });
  EXPECT_THAT(depth_message, HasSubstr("aggregator.frame_blocks.4."));

  // A DINOv2 checkpoint is not a VGGT checkpoint.
  const auto dino = load_safetensors(fixture("dinov2", "tiny.safetensors"));
  EXPECT_THAT(error_message([&] { vggt_module_tensors(dino, small_config(), "dino"); }),
              HasSubstr("aggregator.camera_token"));
}

TEST(Vggt, RejectsInconsistentConfigurations) {
  auto config = small_config();
  config.dpt_layers = {0, 1, 2, 9};
  EXPECT_THAT(error_message([&] { validate(config); }), HasSubstr("dpt layer 9"));
  config = small_config();
  config.patch_embed.width = 48;
  EXPECT_THAT(error_message([&] { validate(config); }), HasSubstr("patch embed width 48"));
  // A zero patch size in a configuration file is an error, not a division by zero.
  auto json = fixture_meta().at("small");
  json["patch_size"] = 0;
  EXPECT_THAT(error_message([&] { vggt_config_from_json(json); }),
              HasSubstr("patch_size (0) must be positive"));
}

TEST(Vggt, BackboneFeaturesAreTheAggregatorPatchTokens) {
  const auto io = fixture_io();
  BackboneOptions options;
  options.weights = weights_path();
  auto backbone = make_vggt_backbone("vggt-small", small_config(), options, 56);
  EXPECT_EQ(backbone->num_layers(), 4);
  EXPECT_EQ(backbone->feature_dim(), 64);
  EXPECT_EQ(backbone->default_point().layer, 3);
  EXPECT_EQ(backbone->input_spec().height, 56);

  // The fixture clip (3 frames, 42 x 70) at every block: its patch tokens, as maps.
  const auto clip = fixture_images(io).squeeze(0);
  for (int layer = 0; layer < 4; ++layer) {
    ExtractionPoint point;
    point.layer = layer;
    const auto maps = backbone->extract(clip, point);
    const auto expected = io.at("tokens." + std::to_string(layer))
                              .squeeze(0)
                              .slice(1, 5)
                              .permute({0, 2, 1})
                              .reshape({3, 64, 3, 5});
    EXPECT_EQ(maps.native_grid, (std::vector<int64_t>{3, 3, 5}));
    EXPECT_LT(relative_error(maps.features, expected), testing::kParityTolerance)
        << "block " << layer;
  }
  ExtractionPoint outside;
  outside.layer = 4;
  EXPECT_THAT(error_message([&] {
                backbone->extract(torch::rand({2, 3, 56, 56}), outside);
              }),
              HasSubstr("0..3"));
}

TEST(Vggt, RegisteredAsVggt1b) {
  const auto& info = find_backbone("vggt-1b");
  EXPECT_EQ(info.family, "vggt");
  EXPECT_TRUE(info.needs_weights);
  // Real size with a random initialisation (~4 GB of float32 for the aggregator), on a tiny clip.
  BackboneOptions options;
  options.random_init = true;
  auto backbone = info.create(options);
  EXPECT_EQ(backbone->num_layers(), 24);
  EXPECT_EQ(backbone->feature_dim(), 2048);
  EXPECT_EQ(backbone->default_point().layer, 23);
  EXPECT_EQ(backbone->input_spec().width, 518);
  EXPECT_EQ(backbone->input_spec().height, 518);
  ExtractionPoint point;
  point.layer = 1;
  const auto maps = backbone->extract(torch::rand({2, 3, 28, 42}), point);
  EXPECT_EQ(maps.features.sizes(), (std::vector<int64_t>{2, 2048, 2, 3}));
  EXPECT_TRUE(torch::isfinite(maps.features).all().item<bool>());
  EXPECT_THAT(error_message([&] { create_backbone("vggt-1b", BackboneOptions{}); }),
              HasSubstr("vggt"));
}

}  // namespace
}  // namespace vidprobe::backbones
