// VideoMAE V2 against the official OpenGVLab/VideoMAEv2 VisionTransformer (fixtures by
// tools/make_backbone_fixtures.py --family videomaev2): every block for 4 and 6 frames and a
// second input size, the checkpoint wrappers, strict rejection, real-size layouts and counts.
#include "vidprobe/backbones/videomae/videomaev2.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backbones/checkpoint_test_support.h"
#include "vidprobe/backbones/registry.h"

namespace vidprobe::backbones {
namespace {

using testing::error_message;
using testing::fixture;
using testing::fixture_clip;
using ::testing::HasSubstr;
using testing::with_weights;

// The fixture's config: width 32, 3 blocks, 2 heads, patch 8, 24 px, 4 frames, and the giant's
// MLP ratio 48/11 (hidden width int(32 * 48 / 11) = 139, as the official code rounds).
VideoViTConfig tiny_videomaev2_config() {
  return testing::tiny_video_vit(videomaev2_config("videomaev2-giant"), 32, std::nullopt);
}

std::unique_ptr<Backbone> tiny_videomaev2_from(const TensorMap& tensors, const std::string& file) {
  const auto path = testing::temporary_path(file);
  save_safetensors(path, tensors);
  return make_videomaev2_backbone("tiny", tiny_videomaev2_config(), with_weights(path));
}

TEST(VideoMAEv2, MatchesTheOfficialCodeAtEveryBlock) {
  auto backbone = make_videomaev2_backbone("tiny", tiny_videomaev2_config(),
                                           with_weights(fixture("videomaev2", "tiny.safetensors")));
  EXPECT_EQ(backbone->input_spec().frames_multiple, 2);
  EXPECT_EQ(backbone->default_point().layer, 2);
  ::testing::Test::RecordProperty(
      "worst_relative_error", testing::scientific(testing::video_parity(
                                  *backbone, "videomaev2", "tiny", 2, testing::kParityTolerance)));
}

TEST(VideoMAEv2, WrappedCheckpointsLoad) {
  const auto weights = load_safetensors(fixture("videomaev2", "tiny.safetensors"));
  const auto clip = fixture_clip("videomaev2", "clip");
  const auto expected =
      make_videomaev2_backbone("tiny", tiny_videomaev2_config(),
                               with_weights(fixture("videomaev2", "tiny.safetensors")))
          ->extract(clip, point_at_layer(2))
          .features;
  for (const std::string prefix : {"model.", "module."}) {
    SCOPED_TRACE(prefix);
    TensorMap wrapped;
    for (const auto& [key, tensor] : weights) wrapped[prefix + key] = tensor;
    EXPECT_TRUE(torch::equal(tiny_videomaev2_from(wrapped, "videomaev2_wrapped.safetensors")
                                 ->extract(clip, point_at_layer(2))
                                 .features,
                             expected));
  }
}

TEST(VideoMAEv2, RejectsForeignCheckpointsStrictly) {
  auto weights = load_safetensors(fixture("videomaev2", "tiny.safetensors"));
  weights["blocks.0.mlp.fc1.weight"] = torch::zeros({128, 32});
  weights.erase("blocks.1.attn.v_bias");
  weights["blocks.2.attn.k_bias"] = torch::zeros({32});
  auto message =
      error_message([&] { tiny_videomaev2_from(weights, "videomaev2_bad.safetensors"); });
  EXPECT_THAT(message, HasSubstr("videomaev2_bad.safetensors"));
  EXPECT_THAT(message, HasSubstr("VideoMAE V2"));
  EXPECT_THAT(message,
              HasSubstr("blocks.0.mlp.fc1.weight: expected [139, 32], checkpoint has [128, 32]"));
  EXPECT_THAT(message, HasSubstr("blocks.1.attn.v_bias [32]"));
  EXPECT_THAT(message, HasSubstr("blocks.2.attn.k_bias"));

  // VideoMAE v1 (transformers layout) is another model.
  message = error_message([&] {
    make_videomaev2_backbone("tiny", tiny_videomaev2_config(),
                             with_weights(fixture("videomae", "tiny.safetensors")));
  });
  EXPECT_THAT(message, HasSubstr("unexpected"));
  EXPECT_THAT(message, HasSubstr("embeddings.patch_embeddings.projection.weight"));
  EXPECT_THAT(error_message([&] {
                create_backbone("videomaev2-base",
                                with_weights(fixture("videomaev2", "tiny.safetensors")));
              }),
              HasSubstr("blocks.0.attn.qkv.weight: expected [2304, 768], checkpoint has [96, 32]"));
}

TEST(VideoMAEv2, RealSizeLayoutsMatchTheOfficialCode) {
  const auto reference = testing::fixture_real_sizes("videomaev2");
  ASSERT_EQ(reference.size(), testing::registered_names("videomaev2").size());
  for (const auto& name : testing::registered_names("videomaev2")) {
    SCOPED_TRACE(name);
    const auto config = videomaev2_config(name);
    const auto layout = videomaev2_layout(config);
    testing::expect_layout_matches(layout, reference[name]);
    EXPECT_EQ(find_backbone(name).family, "videomaev2");
    const auto module_layout =
        shapes_of(videomaev2_module_tensors(meta_tensors(layout), config, name));
    // The fused qkv bias holds the key projection's zero bias: width more elements.
    EXPECT_EQ(element_count(module_layout),
              element_count(layout) + config.vit.depth * config.vit.width);
    if (name == "videomaev2-base") {
      EXPECT_EQ(module_layout, module_shapes(*VideoViT(config)));
    }
  }
}

}  // namespace
}  // namespace vidprobe::backbones
