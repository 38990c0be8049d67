// Open-Sora 2.0's empty-prompt conditioning from the published encoder folders, against what its
// HFEmbedder pair computes with transformers (tools/make_opensora_text_fixtures.py): T5 v1.1 over
// EOS + 511 pads without a mask, CLIP-L's pooled output over BOS, EOS, pads.
#include "vidprobe/backbones/opensora/text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "test_support.h"
#include "vidprobe/backbones/opensora/backbone.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::opensora {
namespace {
namespace fs = std::filesystem;
using test_support::error_message;
using ::testing::HasSubstr;

fs::path text_fixture(const std::string& name) {
  return fs::path(VIDPROBE_TEST_DATA_DIR) / "opensora" / "text" / name;
}

torch::Tensor text_golden(const std::string& name) {
  static const TensorMap reference = load_safetensors(text_fixture("reference.safetensors"));
  return reference.at(name);
}

MmditConfig fixture_widths() {
  MmditConfig config;
  config.context_in_dim = 16;
  config.vec_in_dim = 4;
  return config;
}

// The T5 folder holds a whole T5ForConditionalGeneration, as google/t5-v1_1-xxl: its decoder and
// lm_head are dropped.
TEST(OpenSoraText, T5OfTheEmptyPromptMatchesT5EncoderModel) {
  const auto t5 = empty_prompt_t5(text_fixture("t5"), torch::kCPU, torch::kFloat32);
  ASSERT_EQ(t5.sizes(), (at::IntArrayRef{1, 512, 16}));
  // float32 sums over 512 keys in another order: 5.8e-5 at most on values up to 3.8.
  EXPECT_TRUE(torch::allclose(t5, text_golden("t5_empty"), 1e-4, 1e-4));
}

TEST(OpenSoraText, ClipOfTheEmptyPromptMatchesTheCLIPTextModelPooledOutput) {
  const auto clip = empty_prompt_clip(text_fixture("clip"), torch::kCPU, torch::kFloat32);
  EXPECT_TRUE(torch::allclose(clip, text_golden("clip_empty"), 1e-5, 1e-5));
}

TEST(OpenSoraText, BothEncodersCheckedAgainstTheMmditWidths) {
  const TextEncoderFolders folders{text_fixture("t5"), text_fixture("clip")};
  const auto text = encode_empty_prompt(folders, fixture_widths(), torch::kCPU, torch::kFloat32);
  EXPECT_TRUE(torch::allclose(text.t5, text_golden("t5_empty"), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(text.clip, text_golden("clip_empty"), 1e-5, 1e-5));
  auto wider = fixture_widths();
  wider.vec_in_dim = 8;
  EXPECT_THAT(
      error_message([&] { encode_empty_prompt(folders, wider, torch::kCPU, torch::kFloat32); }),
      AllOf(HasSubstr("clip"), HasSubstr("vec_in_dim 8")));
  EXPECT_THAT(error_message([&] {
                encode_empty_prompt({text_fixture("none"), text_fixture("clip")}, fixture_widths(),
                                    torch::kCPU, torch::kFloat32);
              }),
              AllOf(HasSubstr("none"), HasSubstr("t5=DIR")));
}

TEST(OpenSoraText, T5LoadingStaysStrictForEverythingButTheDecoder) {
  const auto dir = test_support::fresh_temp_dir("opensora_t5_extra");
  fs::copy_file(text_fixture("t5/config.json"), dir / "config.json");
  auto weights = load_safetensors(text_fixture("t5/model.safetensors"));
  weights.emplace("encoder.block.0.layer.0.extra.weight", torch::zeros({2}));
  save_safetensors(dir / "model.safetensors", weights);
  EXPECT_THAT(error_message([&] { empty_prompt_t5(dir, torch::kCPU, torch::kFloat32); }),
              HasSubstr("extra.weight"));
}

// --backbone-opt t5= / clip= reach the backbone; text= and the encoders exclude each other.
TEST(OpenSoraText, BackboneOptionsNameTheEncoderFolders) {
  const auto options = feature_options_from(
      "opensora-v2", {{"t5", text_fixture("t5").string()}, {"clip", "c"}, {"vae_dtype", "bf16"}});
  EXPECT_EQ(options.encoders.t5, text_fixture("t5"));
  EXPECT_EQ(options.encoders.clip, fs::path("c"));
  EXPECT_EQ(options.vae_dtype, torch::kBFloat16);
  EXPECT_THAT(error_message([] {
                feature_options_from("opensora-v2", {{"text", "f"}, {"t5", "d"}});
              }),
              HasSubstr("not both"));
  EXPECT_THAT(error_message([] {
                feature_options_from("opensora-v2", {{"vae_dtype", "int8"}});
              }),
              HasSubstr("vae_dtype"));
}

}  // namespace
}  // namespace vidprobe::backbones::opensora
