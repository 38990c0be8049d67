// DINOv2 against transformers' Dinov2Model / Dinov2WithRegistersModel (fixtures written by
// tools/make_backbone_fixtures.py): every block, native and interpolated input grids, both
// published key layouts, strict rejection of foreign checkpoints, real-size layouts.
#include "vidprobe/backbones/dinov2/dinov2.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backbones/checkpoint_test_support.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/backbones/registry.h"

namespace vidprobe::backbones {
namespace {

using testing::error_message;
using testing::fixture;
using testing::fixture_clip;
using ::testing::HasSubstr;
using testing::relative_error;
using testing::with_weights;

nn::ViTConfig tiny_dinov2_config() {
  return testing::tiny_dinov2_config();
}

nn::ViTConfig tiny_registers_swiglu_config() {
  nn::ViTConfig c;
  c.image_size = 42;
  c.patch_size = 14;
  c.width = 24;
  c.depth = 2;
  c.heads = 3;
  c.mlp_ratio = 4.0;
  c.register_tokens = 2;
  c.swiglu = true;
  c.antialias_pos_interpolation = true;
  return c;
}

double worst_block_error(Backbone& backbone, const std::string& config_case, int prefix) {
  return testing::image_parity(backbone, "dinov2", config_case, prefix, testing::kParityTolerance);
}

TEST(Dinov2, MatchesTransformersAtEveryBlockAndGrid) {
  auto backbone = make_dinov2_backbone("tiny", tiny_dinov2_config(),
                                       with_weights(fixture("dinov2", "tiny.safetensors")));
  EXPECT_EQ(backbone->num_layers(), 3);
  EXPECT_EQ(backbone->feature_dim(), 24);
  EXPECT_EQ(backbone->default_point().layer, 2);
  ::testing::Test::RecordProperty("worst_relative_error",
                                  testing::scientific(worst_block_error(*backbone, "tiny", 1)));
}

TEST(Dinov2, RegistersSwiGLUAndAntialiasedInterpolationMatchTransformers) {
  auto config = tiny_registers_swiglu_config();
  const auto weights = with_weights(fixture("dinov2", "tiny_reg_swiglu.safetensors"));
  auto backbone = make_dinov2_backbone("tiny-reg", config, weights);
  ::testing::Test::RecordProperty(
      "worst_relative_error",
      testing::scientific(worst_block_error(*backbone, "tiny_reg_swiglu", 1 + 2)));
  // The test can tell the two interpolations apart: without antialiasing the downsampled
  // position embedding (3 -> 2 rows of the wide input) no longer matches.
  config.antialias_pos_interpolation = false;
  auto plain = make_dinov2_backbone("tiny-reg-plain", config, weights);
  const auto wide = fixture_clip("dinov2", "wide");
  const auto reference = testing::fixture_reference("dinov2", "tiny_reg_swiglu");
  const auto maps = plain->extract(wide, point_at_layer(0));
  EXPECT_GT(relative_error(maps.features, testing::image_token_maps(
                                              reference.at("wide.hidden_states.1"), 3, 2, 4)),
            100 * testing::kParityTolerance);
}

// --backbone-opt size feeds another input size (the paper feeds 420 x 728) and final_norm reads
// transformers' last_hidden_state: the last hidden state through the checkpoint's final LayerNorm.
TEST(Dinov2, SizeAndFinalNormOptionsGiveTransformersLastHiddenState) {
  auto options = with_weights(fixture("dinov2", "tiny.safetensors"));
  options.extra = {{"size", "28x56"}, {"final_norm", "1"}};
  auto backbone = make_dinov2_backbone("tiny", tiny_dinov2_config(), options);
  EXPECT_EQ(backbone->input_spec().height, 28);
  EXPECT_EQ(backbone->input_spec().width, 56);
  const auto maps = backbone->extract(fixture_clip("dinov2", "wide"), point_at_layer(2));
  const auto reference = testing::fixture_reference("dinov2", "tiny");
  const auto weights = load_safetensors(fixture("dinov2", "tiny.safetensors"));
  const auto last_hidden_state =
      torch::layer_norm(reference.at("wide.hidden_states.3"), {24}, weights.at("layernorm.weight"),
                        weights.at("layernorm.bias"), 1e-6);
  EXPECT_LT(relative_error(maps.features, testing::image_token_maps(last_hidden_state, 1, 2, 4)),
            testing::kParityTolerance);

  auto bad = options;
  bad.extra = {{"size", "30x56"}};
  EXPECT_THAT(error_message([&] { make_dinov2_backbone("tiny", tiny_dinov2_config(), bad); }),
              HasSubstr("multiples of 14"));
  bad.extra = {{"final_norm", "yes"}};
  EXPECT_THAT(error_message([&] { make_dinov2_backbone("tiny", tiny_dinov2_config(), bad); }),
              HasSubstr("final_norm"));
  bad.extra = {{"text_length", "226"}};
  EXPECT_THAT(error_message([&] { make_dinov2_backbone("tiny", tiny_dinov2_config(), bad); }),
              HasSubstr("no option 'text_length'"));
}

TEST(Dinov2, OriginalRepositoryLayoutLoadsToTheSameModel) {
  auto hub = make_dinov2_backbone("tiny", tiny_dinov2_config(),
                                  with_weights(fixture("dinov2", "tiny.safetensors")));
  auto original =
      make_dinov2_backbone("tiny", tiny_dinov2_config(),
                           with_weights(fixture("dinov2", "tiny_original_layout.safetensors")));
  const auto clip = fixture_clip("dinov2", "wide");
  for (int layer = 0; layer < 3; ++layer)
    EXPECT_TRUE(torch::equal(hub->extract(clip, point_at_layer(layer)).features,
                             original->extract(clip, point_at_layer(layer)).features));
  worst_block_error(*original, "tiny", 1);
}

TEST(Dinov2, ClassificationCheckpointsAreUnwrapped) {
  TensorMap wrapped;
  for (auto& [key, tensor] : load_safetensors(fixture("dinov2", "tiny.safetensors")))
    wrapped["dinov2." + key] = tensor;
  wrapped["classifier.weight"] = torch::zeros({5, 48});
  wrapped["classifier.bias"] = torch::zeros({5});
  const auto path = testing::temporary_path("dinov2_classifier.safetensors");
  save_safetensors(path, wrapped);
  auto backbone = make_dinov2_backbone("tiny", tiny_dinov2_config(), with_weights(path));
  worst_block_error(*backbone, "tiny", 1);
}

TEST(Dinov2, HalfPrecisionCheckpointsAreConvertedToTheRequestedDtype) {
  const auto weights = load_safetensors(fixture("dinov2", "tiny.safetensors"));
  TensorMap half, rounded;
  for (const auto& [key, tensor] : weights) {
    half[key] = tensor.to(torch::kFloat16);
    rounded[key] = half[key].to(torch::kFloat32);
  }
  const auto half_path = testing::temporary_path("dinov2_fp16.safetensors");
  const auto rounded_path = testing::temporary_path("dinov2_fp16_as_fp32.safetensors");
  save_safetensors(half_path, half);
  save_safetensors(rounded_path, rounded);
  auto from_half = make_dinov2_backbone("tiny", tiny_dinov2_config(), with_weights(half_path));
  auto from_rounded =
      make_dinov2_backbone("tiny", tiny_dinov2_config(), with_weights(rounded_path));
  const auto clip = fixture_clip("dinov2", "clip");
  const auto features = from_half->extract(clip, point_at_layer(2)).features;
  EXPECT_EQ(features.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(features, from_rounded->extract(clip, point_at_layer(2)).features));
}

TEST(Dinov2, FramesAreIndependent) {
  auto backbone = make_dinov2_backbone("tiny", tiny_dinov2_config(),
                                       with_weights(fixture("dinov2", "tiny.safetensors")));
  const auto clip = fixture_clip("dinov2", "clip");
  const auto all = backbone->extract(clip, point_at_layer(1)).features;
  const auto third = backbone->extract(clip.slice(0, 2, 3), point_at_layer(1)).features;
  EXPECT_TRUE(torch::allclose(all[2], third[0], 1e-5, 1e-6));
}

TEST(Dinov2, RejectsCheckpointsOfOtherSizesListingTheKeys) {
  auto wider = tiny_dinov2_config();
  wider.width = 32;
  auto message = error_message([&] {
    make_dinov2_backbone("wider", wider, with_weights(fixture("dinov2", "tiny.safetensors")));
  });
  EXPECT_THAT(message, HasSubstr("tiny.safetensors"));
  EXPECT_THAT(message, HasSubstr("wrong shape"));
  EXPECT_THAT(message,
              HasSubstr("embeddings.cls_token: expected [1, 1, 32], checkpoint has [1, 1, 24]"));

  auto deeper = tiny_dinov2_config();
  deeper.depth = 4;
  message = error_message([&] {
    make_dinov2_backbone("deeper", deeper, with_weights(fixture("dinov2", "tiny.safetensors")));
  });
  EXPECT_THAT(message, HasSubstr("missing"));
  EXPECT_THAT(message, HasSubstr("encoder.layer.3.attention.attention.query.weight [24, 24]"));

  // A register checkpoint is not a plain one, and a plain checkpoint's real-size name is strict.
  message = error_message([&] {
    make_dinov2_backbone("tiny", tiny_dinov2_config(),
                         with_weights(fixture("dinov2", "tiny_reg_swiglu.safetensors")));
  });
  EXPECT_THAT(message, HasSubstr("unexpected"));
  EXPECT_THAT(message, HasSubstr("embeddings.register_tokens [1, 2, 24]"));
  EXPECT_THAT(message, HasSubstr("mlp.weights_in.weight"));
  message = error_message([&] {
    create_backbone("dinov2-vits14", with_weights(fixture("dinov2", "tiny.safetensors")));
  });
  EXPECT_THAT(message, HasSubstr("embeddings.position_embeddings: expected [1, 1370, 384]"));
}

TEST(Dinov2, RejectsStrayAndMissingKeys) {
  auto weights = load_safetensors(fixture("dinov2", "tiny.safetensors"));
  weights["encoder.layer.0.attention.attention.rope.weight"] = torch::zeros({3});
  weights.erase("encoder.layer.2.layer_scale2.lambda1");
  const auto path = testing::temporary_path("dinov2_stray.safetensors");
  save_safetensors(path, weights);
  const auto message = error_message(
      [&] { make_dinov2_backbone("tiny", tiny_dinov2_config(), with_weights(path)); });
  EXPECT_THAT(message, HasSubstr("1 missing:\n    encoder.layer.2.layer_scale2.lambda1 [24]"));
  EXPECT_THAT(message,
              HasSubstr("1 unexpected:\n    encoder.layer.0.attention.attention.rope.weight [3]"));
}

TEST(Dinov2, RealSizeLayoutsMatchTransformers) {
  const auto reference = testing::fixture_real_sizes("dinov2");
  ASSERT_EQ(reference.size(), testing::registered_names("dinov2").size());
  for (const auto& name : testing::registered_names("dinov2")) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(reference.contains(name));
    const auto layout = dinov2_hub_layout(dinov2_config(name));
    EXPECT_EQ(element_count(layout), reference[name]["parameters"].get<int64_t>());
    for (const auto& [key, shape] : reference[name]["shapes"].items()) {
      ASSERT_TRUE(layout.contains(key)) << key;
      EXPECT_EQ(layout.at(key), shape.get<Shape>()) << key;
    }
    EXPECT_EQ(find_backbone(name).family, "dinov2");
    // Both published layouts map onto exactly the module's parameters (shapes only, no memory).
    const auto config = dinov2_config(name);
    const auto module_layout = shapes_of(dinov2_module_tensors(meta_tensors(layout), config, name));
    EXPECT_EQ(element_count(module_layout) + config.width, element_count(layout));  // - mask token
    if (config.width <= 384) {
      EXPECT_EQ(module_layout, module_shapes(*nn::ViT(config)));
    }
  }
}

TEST(Dinov2, RegisteredSizesNeedWeightsOrExplicitRandomInit) {
  EXPECT_THAT(error_message([] { create_backbone("dinov2-vits14-reg", {}); }),
              HasSubstr("--weights"));
  BackboneOptions options;
  options.random_init = true;
  auto backbone = create_backbone("dinov2-vits14-reg", options);
  EXPECT_EQ(backbone->feature_dim(), 384);
  EXPECT_EQ(backbone->num_layers(), 12);
  const auto spec = backbone->input_spec();
  EXPECT_EQ(spec.height, 224);
  EXPECT_EQ(spec.patch_size, 14);
  EXPECT_EQ(spec.frames_multiple, 1);
  const auto maps = backbone->extract(torch::rand({1, 3, 28, 42}), point_at_layer(0));
  EXPECT_EQ(maps.features.sizes(), (std::vector<int64_t>{1, 384, 2, 3}));
  EXPECT_THAT(error_message([&] {
                backbone->extract(torch::rand({1, 3, 28, 40}), {});
              }),
              HasSubstr("patch size 14"));
  EXPECT_THAT(error_message([&] {
                backbone->extract(torch::rand({1, 3, 28, 28}), point_at_layer(12));
              }),
              HasSubstr("layer 12 is outside 0..11"));
}

}  // namespace
}  // namespace vidprobe::backbones
