// The shared strict-loading pieces (checkpoint_mapping.h) and the dtype handling common to the
// checkpoint-backed families.
#include "vidprobe/backbones/checkpoint_mapping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backbones/checkpoint_test_support.h"
#include "vidprobe/backbones/dinov2/dinov2.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/backbones/video_tokens.h"
#include "vidprobe/backbones/videomae/videomae.h"
#include "vidprobe/backbones/vjepa/vjepa2.h"

namespace vidprobe::backbones {
namespace {

using ::testing::AllOf;
using testing::error_message;
using ::testing::HasSubstr;

TEST(CheckpointMapping, WrapperPrefixesAreStrippedAndHeadsDropped) {
  TensorMap checkpoint = {{"model.a", torch::zeros({1})},
                          {"model.head.w", torch::zeros({2})},
                          {"classifier.weight", torch::zeros({3})},
                          {"stray", torch::zeros({4})}};
  const auto selected =
      select_backbone_tensors(checkpoint, {{"other.", "model."}, {"classifier.", "head."}});
  EXPECT_EQ(shapes_of(selected), (ShapeMap{{"a", {1}}, {"stray", {4}}}));
  // Without a wrapper the keys stay as they are.
  const auto plain = select_backbone_tensors({{"a", torch::zeros({1})}}, {{"model."}, {}});
  EXPECT_EQ(shapes_of(plain), (ShapeMap{{"a", {1}}}));
}

TEST(CheckpointMapping, MismatchListsTheFirstKeysOfEachKind) {
  TensorMap tensors;
  ShapeMap expected;
  for (int i = 0; i < 10; ++i) expected["k" + std::to_string(i)] = {2};
  tensors["k0"] = torch::zeros({3});
  tensors["extra"] = torch::zeros({1, 1});
  const auto message =
      error_message([&] { require_layout(tensors, expected, "file.safetensors", "Arch"); });
  EXPECT_THAT(message,
              HasSubstr("checkpoint 'file.safetensors' does not match the architecture Arch"));
  EXPECT_THAT(message, HasSubstr("1 wrong shape:\n    k0: expected [2], checkpoint has [3]"));
  EXPECT_THAT(message, HasSubstr("9 missing:\n    k1 [2]"));
  EXPECT_THAT(message, HasSubstr("... and 1 more"));
  EXPECT_THAT(message, HasSubstr("1 unexpected:\n    extra [1, 1]"));
  // Numbered keys are listed in numeric order.
  const auto numbered = error_message([] {
    require_layout({}, {{"layer.10.w", {1}}, {"layer.2.w", {1}}, {"layer.2.b", {1}}}, "f", "A");
  });
  EXPECT_THAT(numbered, HasSubstr("layer.2.b [1]\n    layer.2.w [1]\n    layer.10.w [1]"));
  EXPECT_NO_THROW(require_layout({{"a", torch::zeros({2, 3})}}, {{"a", {2, 3}}}, "f", "A"));
}

TEST(CheckpointMapping, FuseAndRenameAndMetaShapes) {
  TensorMap t = {{"q", torch::full({2, 3}, 1.0)},
                 {"k", torch::full({2, 3}, 2.0)},
                 {"v", torch::full({1, 3}, 3.0)}};
  fuse_keys(t, {"q", "k", "v"}, "qkv");
  rename_key(t, "qkv", "attn.qkv");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t.at("attn.qkv").sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(t.at("attn.qkv")[4][0].item<float>(), 3.0f);
  EXPECT_THAT(error_message([&] { rename_key(t, "absent", "x"); }), HasSubstr("'absent'"));
  const auto meta = meta_tensors({{"w", {1024, 1024, 64}}});
  EXPECT_TRUE(meta.at("w").is_meta());
  EXPECT_EQ(element_count(shapes_of(meta)), 1024 * 1024 * 64);
}

TEST(CheckpointMapping, LoadIntoModuleIsStrictAndConvertsDtype) {
  torch::nn::Linear linear(3, 2);
  const TensorMap good = {{"weight", torch::ones({2, 3}, torch::kFloat16)},
                          {"bias", torch::zeros({2}, torch::kBFloat16)}};
  load_module_strict(*linear, good, "f", "Linear");
  EXPECT_EQ(linear->weight.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(linear->weight, torch::ones({2, 3})));
  EXPECT_THAT(error_message([&] {
                load_module_strict(*linear, {{"weight", torch::ones({2, 3})}}, "f", "Linear");
              }),
              HasSubstr("1 missing:\n    bias [2]"));
}

TEST(CheckpointMapping, IntegerDataWhereTheModuleIsFloatingIsRefusedNamingFileAndKey) {
  torch::nn::Linear linear(3, 2);
  const TensorMap labelled_weight = {{"weight", torch::ones({2, 3}, torch::kInt32)},
                                     {"bias", torch::zeros({2})}};
  EXPECT_THAT(error_message(
                  [&] { load_module_strict(*linear, labelled_weight, "w.safetensors", "Linear"); }),
              AllOf(HasSubstr("'w.safetensors'"), HasSubstr("'weight'"), HasSubstr("Int"),
                    HasSubstr("not a floating type")));
  // The parameter is left as it was: nothing is loaded partially.
  EXPECT_FALSE(torch::equal(linear->weight, torch::ones({2, 3})));
  // Pieces of one fused parameter must share their dtype, or torch::cat would promote an integer
  // piece to float before load_module_strict could see it.
  TensorMap pieces = {{"q", torch::ones({1, 3})},
                      {"k", torch::ones({1, 3}, torch::kInt32)},
                      {"v", torch::ones({1, 3})}};
  EXPECT_THAT(error_message([&] {
                fuse_keys(pieces, {"q", "k", "v"}, "qkv");
              }),
              AllOf(HasSubstr("'k'"), HasSubstr("Int"), HasSubstr("'q'")));
}

TEST(CheckpointMapping, AFamilyRefusesAnIntegerWeightInItsCheckpointFile) {
  // The DINOv2 fixture in the facebookresearch layout keeps the module's own key names.
  auto weights = load_safetensors(testing::fixture("dinov2", "tiny_original_layout.safetensors"));
  ASSERT_TRUE(weights.contains("blocks.1.norm1.weight"));
  weights["blocks.1.norm1.weight"] = weights.at("blocks.1.norm1.weight").to(torch::kInt32);
  const auto path = testing::temporary_path("dinov2_int_weight.safetensors");
  save_safetensors(path, weights);
  EXPECT_THAT(
      error_message([&] {
        make_dinov2_backbone("tiny", testing::tiny_dinov2_config(), testing::with_weights(path));
      }),
      AllOf(HasSubstr("dinov2_int_weight.safetensors"), HasSubstr("'blocks.1.norm1.weight'"),
            HasSubstr("Int")));
  std::filesystem::remove(path);
}

TEST(VideoTokens, EachTemporalMapCoversItsTubelet) {
  // Token (t, y, x) holds 100 t + 10 y + x in every channel.
  auto tokens = torch::empty({1, 3 * 2 * 2, 5});
  for (int t = 0; t < 3; ++t)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 2; ++x) tokens[0][(t * 2 + y) * 2 + x].fill_(100 * t + 10 * y + x);
  const auto maps = tubelet_tokens_to_frame_maps(tokens, 3, 2, 2, 2);
  ASSERT_EQ(maps.features.sizes(), (std::vector<int64_t>{6, 5, 2, 2}));
  EXPECT_EQ(maps.native_grid, (std::vector<int64_t>{3, 2, 2}));
  for (int frame = 0; frame < 6; ++frame)
    EXPECT_EQ(maps.features[frame][4][1][0].item<float>(), 100 * (frame / 2) + 10) << frame;
  EXPECT_THAT(error_message([&] { tubelet_tokens_to_frame_maps(tokens, 2, 2, 2, 2); }),
              HasSubstr("(1, 2 x 2 x 2, C)"));
}

// bf16 weights and activations (CPU here; the GPU path is the same code): close to float32.
TEST(CheckpointDtype, Bfloat16RunsEveryFamilyCloseToFloat32) {
  struct Case {
    std::string family;
    std::function<std::unique_ptr<Backbone>(const BackboneOptions&)> make;
  };
  const auto dinov2 = testing::tiny_dinov2_config();
  const auto videomae = testing::tiny_videomae_config();
  const auto vjepa2 = testing::tiny_vjepa2_config();
  const std::vector<Case> cases = {
      {"dinov2", [&](const BackboneOptions& o) { return make_dinov2_backbone("tiny", dinov2, o); }},
      {"videomae",
       [&](const BackboneOptions& o) { return make_videomae_backbone("tiny", videomae, o); }},
      {"vjepa2", [&](const BackboneOptions& o) { return make_vjepa2_backbone("tiny", vjepa2, o); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.family);
    BackboneOptions options;
    options.weights = testing::fixture(c.family, "tiny.safetensors").string();
    auto fp32 = c.make(options);
    options.dtype = torch::kBFloat16;
    auto bf16 = c.make(options);
    const auto clip = testing::fixture_clip(c.family, "clip");
    const auto reference = fp32->extract(clip, point_at_layer(2)).features;
    const auto features = bf16->extract(clip, point_at_layer(2)).features;
    EXPECT_EQ(features.scalar_type(), torch::kBFloat16);
    const double error = testing::relative_error(features, reference);
    EXPECT_LT(error, 5e-2);
    EXPECT_GT(error, 0);  // really computed in bf16
  }
}

// The same parity on the GPU: float32 (TF32 off) within the CPU tolerance, bf16 close.
TEST(CheckpointCuda, EveryFamilyMatchesTheReferenceOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto& context = at::globalContext();
  const bool tf32_cudnn = context.allowTF32CuDNN();
  context.setAllowTF32CuDNN(false);  // the patch-embedding convolutions in true float32
  BackboneOptions options;
  options.device = torch::Device(torch::kCUDA);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    options.dtype = dtype;
    const double tolerance = dtype == torch::kFloat32 ? 1e-4 : 5e-2;
    options.weights = testing::fixture("dinov2", "tiny.safetensors").string();
    auto dinov2 = make_dinov2_backbone("tiny", testing::tiny_dinov2_config(), options);
    EXPECT_TRUE(dinov2->extract(testing::fixture_clip("dinov2", "clip"), {}).features.is_cuda());
    RecordProperty(
        std::string("dinov2_") + c10::toString(dtype),
        testing::scientific(testing::image_parity(*dinov2, "dinov2", "tiny", 1, tolerance)));
    options.weights = testing::fixture("videomae", "tiny.safetensors").string();
    auto videomae = make_videomae_backbone("tiny", testing::tiny_videomae_config(), options);
    RecordProperty(
        std::string("videomae_") + c10::toString(dtype),
        testing::scientific(testing::video_parity(*videomae, "videomae", "tiny", 2, tolerance)));
    options.weights = testing::fixture("vjepa2", "tiny.safetensors").string();
    auto vjepa2 = make_vjepa2_backbone("tiny", testing::tiny_vjepa2_config(), options);
    RecordProperty(
        std::string("vjepa2_") + c10::toString(dtype),
        testing::scientific(testing::video_parity(*vjepa2, "vjepa2", "tiny", 2, tolerance)));
  }
  context.setAllowTF32CuDNN(tf32_cudnn);
}

}  // namespace
}  // namespace vidprobe::backbones
