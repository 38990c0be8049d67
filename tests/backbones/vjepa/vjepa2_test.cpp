// V-JEPA 2 against transformers' VJEPA2Model encoder (fixtures by
// tools/make_backbone_fixtures.py): every block for 4 and 6 frames and a second input size, the
// 3D rotary angles in closed form, the hub wrappers, strict rejection, real-size layouts.
#include "vidprobe/backbones/vjepa/vjepa2.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "backbones/checkpoint_test_support.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/nn/rotary.h"

namespace vidprobe::backbones {
namespace {

using testing::error_message;
using testing::fixture;
using testing::fixture_clip;
using ::testing::HasSubstr;
using testing::with_weights;

TEST(VJEPA2, MatchesTransformersAtEveryBlock) {
  // The fixture checkpoint is a whole VJEPA2Model: its predictor keys are dropped.
  auto backbone = make_vjepa2_backbone("tiny", testing::tiny_vjepa2_config(),
                                       with_weights(fixture("vjepa2", "tiny.safetensors")));
  EXPECT_EQ(backbone->input_spec().frames_multiple, 2);
  EXPECT_EQ(backbone->input_spec().height, 24);
  ::testing::Test::RecordProperty("worst_relative_error",
                                  testing::scientific(testing::video_parity(
                                      *backbone, "vjepa2", "tiny", 2, testing::kParityTolerance)));
}

TEST(VJEPA2, RotaryAnglesAreTheClosedForm) {
  // Grid (2, 3, 3), head_dim 16: segments of 4 dims for frame, row, column (frequencies 1 and
  // 10000^(-1/2) = 0.01, each used twice), then 4 dims left alone.
  const auto rotary = rotary_3d_angles(2, 3, 3, 16);
  ASSERT_EQ(rotary.cos.sizes(), (std::vector<int64_t>{1, 1, 18, 16}));
  ASSERT_EQ(rotary.sin.sizes(), rotary.cos.sizes());
  EXPECT_EQ(rotary.pairing, nn::RotaryAngles::Pairing::kInterleaved);
  const int token = 1 * 9 + 2 * 3 + 0;  // frame 1, row 2, column 0
  const std::vector<double> angles = {1, 0.01, 1, 0.01, 2, 0.02, 2, 0.02, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int j = 0; j < 16; ++j) {
    EXPECT_NEAR(rotary.cos[0][0][token][j].item<double>(), std::cos(angles[j]), 1e-6) << j;
    EXPECT_NEAR(rotary.sin[0][0][token][j].item<double>(), std::sin(angles[j]), 1e-6) << j;
  }
}

// V-JEPA 2's blocks rotate q and k straight from the packed projection (nn::Attention), a permuted
// view: its tables must be laid out so that the runtime kernel takes that view on a GPU, in the
// dtypes extraction runs in (on a 2-D table the kernel was refused and libtorch's four-kernel
// composition ran instead).
TEST(VJEPA2, RotaryAnglesFitTheRuntimeKernelOnThePackedProjection) {
  const int64_t batch = 2, heads = 4, head_dim = 64, tokens = 2 * 3 * 3;
  const auto angles = rotary_3d_angles(2, 3, 3, head_dim);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto packed = torch::zeros({batch, tokens, 3, heads, head_dim}, dtype);
    const auto q_and_k = packed.permute({2, 0, 3, 1, 4}).narrow(0, 0, 2);
    EXPECT_TRUE(nn::rotary_kernel_accepts(q_and_k, nn::in_dtype(angles, dtype))) << dtype;
  }
}

TEST(VJEPA2, ClassificationWrapperLoadsAndForeignCheckpointsAreRejected) {
  const auto weights = load_safetensors(fixture("vjepa2", "tiny.safetensors"));
  TensorMap wrapped;
  for (const auto& [key, tensor] : weights) wrapped["vjepa2." + key] = tensor;
  wrapped["pooler.query_tokens"] = torch::zeros({1, 1, 32});
  wrapped["classifier.weight"] = torch::zeros({174, 32});
  const auto path = testing::temporary_path("vjepa2_classifier.safetensors");
  save_safetensors(path, wrapped);
  const auto clip = fixture_clip("vjepa2", "clip");
  auto plain = make_vjepa2_backbone("tiny", testing::tiny_vjepa2_config(),
                                    with_weights(fixture("vjepa2", "tiny.safetensors")));
  auto unwrapped = make_vjepa2_backbone("tiny", testing::tiny_vjepa2_config(), with_weights(path));
  EXPECT_TRUE(torch::equal(plain->extract(clip, point_at_layer(1)).features,
                           unwrapped->extract(clip, point_at_layer(1)).features));

  auto message = error_message([&] {
    make_vjepa2_backbone("tiny", testing::tiny_vjepa2_config(),
                         with_weights(fixture("videomae", "tiny.safetensors")));
  });
  EXPECT_THAT(message, HasSubstr("V-JEPA 2"));
  EXPECT_THAT(message, HasSubstr("missing"));
  EXPECT_THAT(message, HasSubstr("encoder.layer.0.attention.query.weight [32, 32]"));
  EXPECT_THAT(error_message([&] {
                create_backbone("vjepa2-vitg-fpc64-384",
                                with_weights(fixture("vjepa2", "tiny.safetensors")));
              }),
              HasSubstr("patch_embeddings.proj.weight: expected [1408, 3, 2, 16, 16], checkpoint "
                        "has [32, 3, 2, 8, 8]"));
}

TEST(VJEPA2, RealSizeLayoutsMatchTransformers) {
  const auto reference = testing::fixture_real_sizes("vjepa2");
  ASSERT_EQ(reference.size(), testing::registered_names("vjepa2").size());
  for (const auto& name : testing::registered_names("vjepa2")) {
    SCOPED_TRACE(name);
    const auto config = vjepa2_config(name);
    const auto layout = vjepa2_hub_layout(config);
    testing::expect_layout_matches(layout, reference[name]);
    EXPECT_EQ(find_backbone(name).family, "vjepa2");
    EXPECT_EQ(find_backbone(name).create == nullptr, false);
    const auto module_layout = shapes_of(vjepa2_module_tensors(meta_tensors(layout), config, name));
    EXPECT_EQ(element_count(module_layout),
              element_count(layout) - 2 * config.vit.width);  // - final norm
  }
  // The module built from a small configuration has exactly the mapped names and shapes.
  const auto config = testing::tiny_vjepa2_config();
  EXPECT_EQ(
      shapes_of(vjepa2_module_tensors(meta_tensors(vjepa2_hub_layout(config)), config, "tiny")),
      module_shapes(*VideoViT(config)));
}

}  // namespace
}  // namespace vidprobe::backbones
