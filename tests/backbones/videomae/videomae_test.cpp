// VideoMAE against transformers' VideoMAEModel (fixtures by tools/make_backbone_fixtures.py):
// every block for 4 and 6 frames and a second input size, the per-frame mapping of 2-frame
// tokens, the checkpoint wrappers of the hub, strict rejection, real-size layouts.
#include "vidprobe/backbones/videomae/videomae.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "backbones/checkpoint_test_support.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/backbones/registry.h"

namespace vidprobe::backbones {
namespace {

using testing::error_message;
using testing::fixture;
using testing::fixture_clip;
using ::testing::HasSubstr;
using testing::with_weights;

VideoViTConfig tiny_videomae_config() {
  return testing::tiny_videomae_config();
}

std::unique_ptr<Backbone> tiny_videomae_from(const TensorMap& tensors, const std::string& file) {
  const auto path = testing::temporary_path(file);
  save_safetensors(path, tensors);
  return make_videomae_backbone("tiny", tiny_videomae_config(), with_weights(path));
}

TEST(VideoMAE, MatchesTransformersAtEveryBlock) {
  auto backbone = make_videomae_backbone("tiny", tiny_videomae_config(),
                                         with_weights(fixture("videomae", "tiny.safetensors")));
  EXPECT_EQ(backbone->input_spec().frames_multiple, 2);
  EXPECT_EQ(backbone->default_point().layer, 2);
  ::testing::Test::RecordProperty(
      "worst_relative_error", testing::scientific(testing::video_parity(
                                  *backbone, "videomae", "tiny", 2, testing::kParityTolerance)));
}

TEST(VideoMAE, FramesOfOneTubeletShareTheirMapAndTimeIsMixed) {
  auto backbone = make_videomae_backbone("tiny", tiny_videomae_config(),
                                         with_weights(fixture("videomae", "tiny.safetensors")));
  auto clip = fixture_clip("videomae", "clip");
  const auto features = backbone->extract(clip, point_at_layer(1)).features;
  EXPECT_TRUE(torch::equal(features[0], features[1]));
  EXPECT_TRUE(torch::equal(features[2], features[3]));
  EXPECT_FALSE(torch::allclose(features[1], features[2]));
  // A video model: changing the last frame changes the first frames' features too.
  clip[3] = 1 - clip[3];
  EXPECT_FALSE(torch::allclose(backbone->extract(clip, point_at_layer(1)).features[0], features[0],
                               1e-3, 1e-4));
}

TEST(VideoMAE, SinusoidTableIsTheClosedForm) {
  const auto table = sinusoid_position_table(5, 8);
  ASSERT_EQ(table.sizes(), (std::vector<int64_t>{1, 5, 8}));
  // Row 3, dims 4 and 5 share the frequency 10000^(-4/8) = 0.01: sin and cos of 0.03.
  EXPECT_NEAR(table[0][3][4].item<double>(), std::sin(0.03), 1e-7);
  EXPECT_NEAR(table[0][3][5].item<double>(), std::cos(0.03), 1e-7);
  EXPECT_NEAR(table[0][2][0].item<double>(), std::sin(2.0), 1e-7);
  EXPECT_NEAR(table[0][0][7].item<double>(), 1.0, 1e-7);
}

TEST(VideoMAE, HubWrappersAndOptionalFinalNormLoad) {
  const auto weights = load_safetensors(fixture("videomae", "tiny.safetensors"));
  const auto clip = fixture_clip("videomae", "clip");
  const auto expected =
      make_videomae_backbone("tiny", tiny_videomae_config(),
                             with_weights(fixture("videomae", "tiny.safetensors")))
          ->extract(clip, point_at_layer(2))
          .features;
  // VideoMAEForPreTraining: backbone under videomae., decoder beside it.
  TensorMap pretraining;
  for (const auto& [key, tensor] : weights) pretraining["videomae." + key] = tensor;
  pretraining["encoder_to_decoder.weight"] = torch::zeros({16, 24});
  pretraining["mask_token"] = torch::zeros({1, 1, 16});
  pretraining["decoder.head.weight"] = torch::zeros({384, 16});
  // VideoMAEForVideoClassification with mean pooling: no final layernorm, fc_norm + classifier.
  TensorMap classification;
  for (const auto& [key, tensor] : weights)
    if (!key.starts_with("layernorm.")) classification["videomae." + key] = tensor;
  classification["fc_norm.weight"] = torch::ones({24});
  classification["classifier.weight"] = torch::zeros({400, 24});
  for (const auto& [tensors, file] :
       {std::pair{pretraining, "videomae_pretraining.safetensors"},
        std::pair{classification, "videomae_classification.safetensors"}}) {
    SCOPED_TRACE(file);
    EXPECT_TRUE(torch::equal(
        tiny_videomae_from(tensors, file)->extract(clip, point_at_layer(2)).features, expected));
  }
}

TEST(VideoMAE, RejectsForeignCheckpointsAndOddClips) {
  auto weights = load_safetensors(fixture("videomae", "tiny.safetensors"));
  weights["layernorm.weight"] = torch::ones({32});
  weights.erase("encoder.layer.1.attention.attention.v_bias");
  auto message = error_message([&] { tiny_videomae_from(weights, "videomae_bad.safetensors"); });
  EXPECT_THAT(message, HasSubstr("videomae_bad.safetensors"));
  EXPECT_THAT(message, HasSubstr("layernorm.weight: expected [24], checkpoint has [32]"));
  EXPECT_THAT(message, HasSubstr("encoder.layer.1.attention.attention.v_bias [24]"));

  message = error_message([&] {
    make_videomae_backbone("tiny", tiny_videomae_config(),
                           with_weights(fixture("dinov2", "tiny.safetensors")));
  });
  EXPECT_THAT(message, HasSubstr("VideoMAE"));
  EXPECT_THAT(message, HasSubstr("unexpected"));
  EXPECT_THAT(message, HasSubstr("embeddings.position_embeddings"));
  EXPECT_THAT(
      error_message([&] {
        create_backbone("videomae-base", with_weights(fixture("videomae", "tiny.safetensors")));
      }),
      HasSubstr("embeddings.patch_embeddings.projection.weight: expected [768, 3, 2, 16, 16]"));

  auto backbone = make_videomae_backbone("tiny", tiny_videomae_config(),
                                         with_weights(fixture("videomae", "tiny.safetensors")));
  EXPECT_THAT(error_message([&] {
                backbone->extract(torch::rand({3, 3, 24, 24}), {});
              }),
              HasSubstr("3 frames; it needs k * 2"));
  const int depth = backbone->num_layers();
  EXPECT_THAT(
      error_message([&] {
        backbone->extract(torch::rand({4, 3, 24, 24}), point_at_layer(depth));
      }),
      HasSubstr("layer " + std::to_string(depth) + " is outside 0.." + std::to_string(depth - 1)));
}

TEST(VideoMAE, RealSizeLayoutsMatchTransformers) {
  const auto reference = testing::fixture_real_sizes("videomae");
  ASSERT_EQ(reference.size(), testing::registered_names("videomae").size());
  for (const auto& name : testing::registered_names("videomae")) {
    SCOPED_TRACE(name);
    const auto config = videomae_config(name);
    const auto layout = videomae_hub_layout(config);
    testing::expect_layout_matches(layout, reference[name]);
    EXPECT_EQ(find_backbone(name).family, "videomae");
    const auto module_layout =
        shapes_of(videomae_module_tensors(meta_tensors(layout), config, name));
    // The fused qkv bias holds the key projection's zero bias: width more elements.
    EXPECT_EQ(element_count(module_layout),
              element_count(layout) + config.vit.depth * config.vit.width);
    if (name == "videomae-base") {
      EXPECT_EQ(module_layout, module_shapes(*VideoViT(config)));
    }
  }
}

}  // namespace
}  // namespace vidprobe::backbones
