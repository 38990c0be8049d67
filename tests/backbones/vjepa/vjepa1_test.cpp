// V-JEPA (v1) against the official code (facebookresearch/jepa; fixtures by
// tools/make_vjepa1_fixtures.py): a pre-training checkpoint written by torch.save read without
// Python, every block for 4 and 6 frames and a non-square size (the stored position table
// trilinearly resized), strict rejection, real-size layouts, and the paper's spaced partition.
#include "vidprobe/backbones/vjepa/vjepa1.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backbones/checkpoint_test_support.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/backbones/video_tokens.h"
#include "vidprobe/features/vidfm3d_import.h"
#include "vidprobe/io/pickle_torch.h"

namespace vidprobe::backbones {
namespace {

using testing::error_message;
using testing::fixture;
using testing::fixture_clip;
using ::testing::HasSubstr;
using testing::with_weights;

// The fixture's VisionTransformer(img_size=24, patch_size=8, num_frames=4, embed_dim=32, depth=3,
// num_heads=2, mlp_ratio=2).
VideoViTConfig tiny_vjepa1_config() {
  return testing::tiny_video_vit(vjepa1_config("vjepa1-vitl16"), 32);
}

// Meta tensors of `layout` under the pre-training checkpoint's prefix.
TensorMap as_pretraining_checkpoint(const ShapeMap& layout) {
  TensorMap wrapped;
  for (auto& [key, tensor] : meta_tensors(layout))
    wrapped["encoder.module.backbone." + key] = tensor;
  return wrapped;
}

std::string tiny_checkpoint() {
  return fixture("vjepa1", "tiny.pth.tar").string();
}

TEST(TorchPickle, ReadsAPreTrainingCheckpointWrittenByTorchSave) {
  const auto tensors = load_torch_zip_tensors(tiny_checkpoint());
  // Nested dicts flattened; numbers (epoch, lr, ...) and lists (param_groups) skipped.
  EXPECT_EQ(tensors.at("encoder.module.backbone.pos_embed").sizes(),
            (std::vector<int64_t>{1, 18, 32}));
  EXPECT_EQ(tensors.at("encoder.module.backbone.patch_embed.proj.weight").sizes(),
            (std::vector<int64_t>{32, 3, 2, 8, 8}));
  EXPECT_TRUE(tensors.contains("opt.state.0.exp_avg"));  // integer keys in decimal
  EXPECT_TRUE(tensors.contains("predictor.module.weight"));
  EXPECT_FALSE(tensors.contains("epoch"));
  EXPECT_EQ(tensors.at("encoder.module.backbone.blocks.2.mlp.fc2.bias").scalar_type(),
            torch::kFloat32);
  EXPECT_TRUE(is_torch_zip_file(tiny_checkpoint()));
  EXPECT_FALSE(is_torch_zip_file(fixture("vjepa1", "inputs.safetensors")));
  EXPECT_THAT(
      error_message([&] { load_torch_zip_tensors(fixture("vjepa1", "inputs.safetensors")); }),
      HasSubstr("is not a zip-format torch.save file"));
}

TEST(VJEPA1, MatchesTheOfficialCodeAtEveryBlock) {
  auto backbone =
      make_vjepa1_backbone("tiny", tiny_vjepa1_config(), with_weights(tiny_checkpoint()));
  EXPECT_EQ(backbone->input_spec().frames_multiple, 2);
  EXPECT_EQ(backbone->input_spec().height, 24);
  ::testing::Test::RecordProperty("worst_relative_error",
                                  testing::scientific(testing::video_parity(
                                      *backbone, "vjepa1", "tiny", 2, testing::kParityTolerance)));
}

TEST(VJEPA1, TheEmbeddingIsThePatchesPlusTheResizedTable) {
  // Block 0's input of the reference (hidden_states.0) for the resized grid (16 x 40 pixels:
  // 2 x 5 tokens from the stored 3 x 3) is the module's embedding.
  const auto reference = testing::fixture_reference("vjepa1", "tiny");
  const auto weights = vjepa1_module_tensors(read_checkpoint(tiny_checkpoint(), "tiny"),
                                             tiny_vjepa1_config(), "tiny");
  VideoViT model(tiny_vjepa1_config());
  load_module_strict(*model, weights, "tiny", "tiny");
  const auto clip = fixture_clip("vjepa1", "small");
  const auto mean = torch::tensor({0.485, 0.456, 0.406}).view({1, 3, 1, 1});
  const auto std = torch::tensor({0.229, 0.224, 0.225}).view({1, 3, 1, 1});
  const auto video = ((clip - mean) / std).to(torch::kFloat32).permute({1, 0, 2, 3}).unsqueeze(0);
  torch::NoGradGuard no_grad;
  const auto embedded = model->patch_embed(video).flatten(2).transpose(1, 2);
  const auto expected = reference.at("small.hidden_states.0");
  EXPECT_LT(testing::relative_error(embedded + model->stored_positions(2, 2, 5), expected), 1e-6);
  // At the stored grid the table is used as stored.
  EXPECT_TRUE(torch::equal(model->stored_positions(2, 3, 3), model->pos_embed));
}

TEST(VJEPA1, TheResizedTableIsKeptUntilTheStoredTableChanges) {
  // The resized table is cached per token grid; weights written into pos_embed after a clip (its
  // version counter moves) must reach the next clip.
  torch::manual_seed(4);
  VideoViT model(tiny_vjepa1_config());
  torch::NoGradGuard no_grad;
  const auto video = torch::randn({1, 3, 2, 16, 40});
  const auto first = model->block_tokens(video, {0}).front();
  EXPECT_TRUE(torch::equal(model->block_tokens(video, {0}).front(), first));
  model->pos_embed.add_(torch::randn_like(model->pos_embed));
  const auto after = model->block_tokens(video, {0}).front();
  EXPECT_FALSE(torch::allclose(after, first));
  VideoViT fresh(tiny_vjepa1_config());
  const auto current = model->named_parameters();
  for (auto& item : fresh->named_parameters()) item.value().copy_(current[item.key()]);
  EXPECT_TRUE(torch::equal(fresh->block_tokens(video, {0}).front(), after));
}

TEST(VJEPA1, ForeignAndMisplacedCheckpointsAreRejected) {
  auto tensors = load_torch_zip_tensors(tiny_checkpoint());
  // The encoder's keys without the DistributedDataParallel prefix: not the published layout.
  TensorMap bare;
  for (const auto& [key, tensor] : tensors)
    if (key.starts_with("encoder.module.backbone."))
      bare["encoder." + key.substr(std::string("encoder.module.backbone.").size())] = tensor;
  const auto path = testing::temporary_path("vjepa1_bare.safetensors");
  save_safetensors(path, bare);
  auto message = error_message(
      [&] { make_vjepa1_backbone("tiny", tiny_vjepa1_config(), with_weights(path)); });
  EXPECT_THAT(message, HasSubstr("module.backbone."));
  EXPECT_THAT(message, HasSubstr("missing"));
  EXPECT_THAT(message, HasSubstr("missing:\n    blocks.0.attn.proj.bias [32]"));
  EXPECT_THAT(message, HasSubstr("unexpected:\n    encoder.blocks.0.attn.proj.bias [32]"));
  // The same keys with the prefix, as safetensors, load (one reader per format, one mapping).
  TensorMap prefixed;
  for (const auto& [key, tensor] : tensors)
    if (key.starts_with("encoder.")) prefixed[key] = tensor;
  save_safetensors(path, prefixed);
  const auto clip = fixture_clip("vjepa1", "clip");
  EXPECT_TRUE(torch::equal(
      make_vjepa1_backbone("tiny", tiny_vjepa1_config(), with_weights(path))
          ->extract(clip, point_at_layer(2))
          .features,
      make_vjepa1_backbone("tiny", tiny_vjepa1_config(), with_weights(tiny_checkpoint()))
          ->extract(clip, point_at_layer(2))
          .features));
  EXPECT_THAT(
      error_message([&] { create_backbone("vjepa1-vith16-384", with_weights(tiny_checkpoint())); }),
      HasSubstr("blocks.0.attn.proj.bias: expected [1280], checkpoint has [32]"));
  EXPECT_THAT(error_message([&] {
                make_vjepa1_backbone("tiny", tiny_vjepa1_config(),
                                     with_weights(fixture("vjepa2", "tiny.safetensors")));
              }),
              HasSubstr("V-JEPA (width 32"));
}

TEST(VJEPA1, RealSizeLayoutsMatchTheOfficialConstructors) {
  const auto reference = testing::fixture_real_sizes("vjepa1");
  ASSERT_EQ(reference.size(), testing::registered_names("vjepa1").size());
  for (const auto& name : testing::registered_names("vjepa1")) {
    SCOPED_TRACE(name);
    const auto config = vjepa1_config(name);
    const auto layout = vjepa1_layout(config);
    testing::expect_layout_matches(layout, reference[name]);
    EXPECT_EQ(find_backbone(name).family, "vjepa1");
    const auto module_layout =
        shapes_of(vjepa1_module_tensors(as_pretraining_checkpoint(layout), config, name));
    EXPECT_EQ(element_count(module_layout), element_count(layout) - 2 * config.vit.width);
  }
  const auto config = tiny_vjepa1_config();
  EXPECT_EQ(shapes_of(vjepa1_module_tensors(as_pretraining_checkpoint(vjepa1_layout(config)),
                                            config, "tiny")),
            module_shapes(*VideoViT(config)));
}

TEST(VJEPA1, SpacedPartitionIsThePapersFiveClips) {
  const auto part = spaced_partition(76, 5, 2);
  ASSERT_EQ(part.frames.sizes(), (std::vector<int64_t>{5, 16}));
  // Clip i (1-based in their code): [0] + [i + 5k for k < 15].
  for (int64_t c = 0; c < 5; ++c) {
    EXPECT_EQ(part.frames[c][0].item<int64_t>(), 0);
    for (int64_t k = 0; k < 15; ++k)
      EXPECT_EQ(part.frames[c][k + 1].item<int64_t>(), c + 1 + 5 * k);
  }
  // The map each frame reads is the one the importer of their (5, 8, h, w, C) files assigns.
  const auto expected = features::vidfm3d_feature_index("vjepa", 76, 40);
  ASSERT_EQ(part.frame_index.size(0), 76);
  for (int64_t f = 0; f < 76; ++f)
    EXPECT_EQ(part.frame_index[f].item<int64_t>(), expected[static_cast<std::size_t>(f)]) << f;
  EXPECT_THAT(error_message([] { spaced_partition(75, 5, 2); }),
              HasSubstr("75 frames cannot be split into 5 clips"));
}

TEST(VJEPA1, SpacedClipsRunEachClipAsTheReferenceWould) {
  // 3 clips of 4 frames over 10 frames: each frame's map is the map of its clip run alone.
  auto options = with_weights(tiny_checkpoint());
  options.extra = {{"spaced_clips", "3"}};
  auto spaced = make_vjepa1_backbone("tiny", tiny_vjepa1_config(), options);
  auto whole = make_vjepa1_backbone("tiny", tiny_vjepa1_config(), with_weights(tiny_checkpoint()));
  EXPECT_EQ(spaced->input_spec().frames_multiple, 6);
  EXPECT_EQ(spaced->input_spec().frames_offset, 4);
  auto clip = torch::cat({fixture_clip("vjepa1", "clip"), fixture_clip("vjepa1", "long")}, 0);
  const auto maps = spaced->extract(clip, point_at_layer(2));
  EXPECT_EQ(maps.native_grid, (std::vector<int64_t>{6, 3, 3}));
  ASSERT_EQ(maps.features.size(0), 10);
  const auto part = spaced_partition(10, 3, 2);
  for (int64_t c = 0; c < 3; ++c) {
    const auto alone = whole->extract(clip.index_select(0, part.frames[c]), point_at_layer(2));
    for (int64_t k = 1; k < 4; ++k) {
      const auto f = part.frames[c][k].item<int64_t>();
      EXPECT_LT(testing::relative_error(maps.features[f], alone.features[k]), 1e-5) << f;
    }
    if (c == 0) {
      EXPECT_LT(testing::relative_error(maps.features[0], alone.features[0]), 1e-5);
    }
  }
  EXPECT_THAT(error_message([&] { spaced->extract(clip.slice(0, 0, 9), point_at_layer(0)); }),
              HasSubstr("needs k * 6 + 4 frames"));
  options.extra = {{"spaced_clips", "0"}};
  EXPECT_THAT(error_message([&] { make_vjepa1_backbone("tiny", tiny_vjepa1_config(), options); }),
              HasSubstr("spaced_clips must be at least 1"));
}

}  // namespace
}  // namespace vidprobe::backbones
