// The CogVideoX backbone end to end against the authors' extraction on diffusers (fixtures written
// by tools/make_cogvideox_backbone_fixtures.py from the small transformer and VAE fixtures): VAE
// posterior mean x scaling, DDIM add_noise with seeded noise, I2V image latents, the transformer's
// video states after each block, and the video-frame mapping.
#include "vidprobe/backbones/cogvideox/backbone.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "backbones/cogvideox/test_fixtures.h"
#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/diffusion_time.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/backbones/wan/config.h"
#include "vidprobe/backbones/wan/text_encoder.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox {
namespace {

namespace fs = std::filesystem;
using test_support::error_message;
using testing::fixture;
using testing::fixture_json;
using testing::golden;
using testing::ModelDirectory;

using test_support::relative_error;

ExtractionPoint point(int layer, int timestep, std::uint64_t seed = 0) {
  ExtractionPoint p;
  p.layer = layer;
  p.timestep = timestep;
  p.noise_seed = seed;
  return p;
}

std::unique_ptr<CogVideoXBackbone> load(const ModelDirectory& dir, const std::string& variant) {
  BackboneOptions options;
  options.weights = dir.path().string();
  FeatureOptions features;
  features.text_context = dir.context();
  return load_cogvideox_backbone("cogvideox-" + variant, options, features);
}

class CogVideoXBackboneParity : public ::testing::TestWithParam<std::string> {};

// Each step against the reference: the scaled posterior mean, the transformer input built from
// the reference noise (noised latents, I2V image latents from the posterior sample), and the
// features `extract` returns with its own seeded noise at the DDIM index the authors use.
TEST_P(CogVideoXBackboneParity, StepsAndFeaturesMatchDiffusers) {
  const auto variant = GetParam();
  const auto& info = fixture_json("backbone_schedulers.json").at(variant);
  ModelDirectory dir(variant);
  const auto backbone = load(dir, variant);
  const auto clip = golden(variant + "/clip");

  const auto encoded = backbone->encode(clip);
  EXPECT_LT(relative_error(encoded.latents, golden(variant + "/latents")), 1e-5);
  const int64_t timestep = golden(variant + "/timestep").item<int64_t>();
  const auto image_noise =
      backbone->image_conditioned() ? golden(variant + "/image_noise") : torch::Tensor();
  const auto input =
      backbone->transformer_input(encoded, golden(variant + "/noise"), image_noise, timestep);
  EXPECT_LT(relative_error(input, golden(variant + "/input")), 1e-5);

  const auto time =
      parse_diffusion_time("ddim:steps=1000,index=" + std::to_string(info.at("index").get<int>()));
  ASSERT_EQ(time.timestep, timestep);
  std::vector<ExtractionPoint> points;
  for (int layer : {0, 1})
    points.push_back(point(layer, time.timestep, info.at("seed").get<std::uint64_t>()));
  const auto maps = backbone->extract_many(clip, points);
  const auto frame_index = latent_frame_indices(clip.size(0), 4);
  for (int layer : {0, 1}) {
    const auto& result = maps[static_cast<std::size_t>(layer)];
    ASSERT_EQ(result.features.size(0), clip.size(0));
    EXPECT_TRUE(torch::equal(result.frame_index, frame_index));
    // Frame 0 and the first frame of every later latent carry that latent's map.
    const auto firsts = torch::cat(
        {torch::zeros({1}, torch::kLong), torch::arange(1, clip.size(0), 4, torch::kLong)});
    const auto expected = golden(variant + "/block" + std::to_string(layer)).permute({0, 3, 1, 2});
    EXPECT_LT(relative_error(result.features.index_select(0, firsts), expected), 1e-5)
        << variant << " block " << layer;
    EXPECT_EQ(result.native_grid,
              (std::vector<int64_t>{expected.size(0), expected.size(2), expected.size(3)}));
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, CogVideoXBackboneParity, ::testing::Values("2b", "5b", "5b-i2v"),
                         [](const auto& param) {
                           auto name = param.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// A different noise seed or timestep must change the features (the comparison above can fail).
TEST(CogVideoXBackbone, NoiseSeedAndTimestepChangeTheFeatures) {
  ModelDirectory dir("5b-i2v");
  const auto backbone = load(dir, "5b-i2v");
  const auto clip = golden("5b-i2v/clip");
  const auto maps =
      backbone->extract_many(clip, {point(1, 250, 7), point(1, 250, 8), point(1, 900, 7)});
  EXPECT_GT(relative_error(maps[1].features, maps[0].features), 1e-3);
  EXPECT_GT(relative_error(maps[2].features, maps[0].features), 1e-3);
}

// image_latents=mean conditions I2V on the posterior mean: the first frame's channels of the
// transformer input then differ from the pipeline's sample, the noisy latents do not.
TEST(CogVideoXBackbone, ImageLatentsFromTheMeanDifferFromTheSample) {
  ModelDirectory dir("5b-i2v");
  BackboneOptions options;
  options.weights = dir.path().string();
  auto features = feature_options_from("cogvideox-5b-i2v", {{"image_latents", "mean"}});
  features.text_context = dir.context();
  const auto backbone = load_cogvideox_backbone("cogvideox-5b-i2v", options, features);
  const auto encoded = backbone->encode(golden("5b-i2v/clip"));
  const auto input = backbone->transformer_input(encoded, golden("5b-i2v/noise"), torch::Tensor(),
                                                 golden("5b-i2v/timestep").item<int64_t>());
  const auto expected = golden("5b-i2v/input");
  EXPECT_LT(relative_error(input.slice(2, 0, 4), expected.slice(2, 0, 4)), 1e-5);
  EXPECT_GT(relative_error(input.slice(2, 4), expected.slice(2, 4)), 1e-3);
  EXPECT_EQ(input.slice(2, 4).slice(1, 1).abs().max().item<double>(), 0.0);  // zero padding
  const double scaling = fixture_json("vae_config.json").at("scaling_factor").get<double>();
  const auto mean = encoded.image_moments.slice(1, 0, 4).permute({0, 2, 1, 3, 4}) * scaling;
  EXPECT_LT(relative_error(input.slice(2, 4).slice(1, 0, 1), mean), 1e-6);
}

torch::Tensor t5_golden(const std::string& key) {
  static const TensorMap reference = load_safetensors(fixture("t5_reference.safetensors"));
  return reference.at(key);
}

// T5 v1.1 is umT5 with one position-bias table (layer 0's) shared by every layer: the fixture has
// no table in later layers, so the strict load fails if the encoder expects one per layer.
TEST(CogVideoXT5, MatchesTransformersT5EncoderModel) {
  const auto config = wan::umt5_config_from_json(fixture_json("t5_config.json"), "t5_config.json");
  EXPECT_TRUE(config.shared_position_bias);
  wan::TextEncoder encoder(config, torch::kCPU, torch::kFloat32);
  encoder.load(load_checkpoint(fixture("t5_encoder.safetensors")), "t5_encoder.safetensors");
  for (const char* name : {"empty", "random"}) {
    const auto hidden = encoder.encode(t5_golden(std::string("ids_") + name));
    EXPECT_LT(relative_error(hidden, t5_golden(std::string("hidden_") + name)), 1e-5) << name;
  }
  auto umt5 = fixture_json("t5_config.json");
  umt5["model_type"] = "umt5";
  EXPECT_FALSE(wan::umt5_config_from_json(umt5, "umt5").shared_position_bias);
}

// Without text_context the backbone encodes the empty prompt (EOS + pads, no mask) with the
// directory's T5: the same features as the transformers reference output given as a file.
TEST(CogVideoXT5, EmptyPromptFromTextEncoderEqualsItsContextFile) {
  ModelDirectory dir("5b");
  dir.add_text_encoder();
  BackboneOptions options;
  options.weights = dir.path().string();
  const auto from_encoder = load_cogvideox_backbone("cogvideox-5b", options, {});
  const auto context_file = dir.path() / "t5_context.safetensors";
  save_safetensors(context_file, {{"context", t5_golden("hidden_empty")}});
  FeatureOptions features;
  features.text_context = context_file;
  const auto from_file = load_cogvideox_backbone("cogvideox-5b", options, features);
  const auto clip = golden("5b/clip");
  const auto a = from_encoder->extract(clip, point(1, 250, 3));
  const auto b = from_file->extract(clip, point(1, 250, 3));
  EXPECT_LT(relative_error(a.features, b.features), 1e-5);
  // ... and differ from the random context of the parity fixture.
  const auto c = load(dir, "5b")->extract(clip, point(1, 250, 3));
  EXPECT_GT(relative_error(c.features, b.features), 1e-3);
}

TEST(CogVideoXBackbone, DefaultPointIsTheAuthorsTimestep) {
  ModelDirectory dir("2b");
  const auto backbone = load(dir, "2b");
  const auto point = backbone->default_point();
  EXPECT_EQ(point.layer, 1);  // block 20 does not exist in the 2-block fixture: the middle one
  EXPECT_EQ(point.timestep, 250);
  const auto spec = backbone->input_spec();
  EXPECT_EQ(spec.height, 480);
  EXPECT_EQ(spec.width, 720);
  EXPECT_EQ(spec.frames_multiple, 4);
  EXPECT_EQ(spec.frames_offset, 1);
  EXPECT_EQ(spec.mean, (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST(CogVideoXBackbone, RefusesFlowSigmasAndWrongContexts) {
  ModelDirectory dir("2b");
  const auto backbone = load(dir, "2b");
  const auto clip = golden("2b/clip");
  auto flow_point = point(0, 500);
  flow_point.sigma = 0.5;
  EXPECT_NE(error_message([&] { backbone->extract(clip, flow_point); }).find("flow sigma"),
            std::string::npos);
  EXPECT_NE(error_message([&] { backbone->extract(clip, point(0, 1000)); }).find("outside 0..999"),
            std::string::npos);
  const auto short_context = dir.path() / "short.safetensors";
  save_safetensors(short_context, {{"context", torch::zeros({3, 20})}});
  BackboneOptions options;
  options.weights = dir.path().string();
  FeatureOptions features;
  features.text_context = short_context;
  EXPECT_NE(error_message([&] {
              load_cogvideox_backbone("cogvideox-2b", options, features);
            }).find("short.safetensors"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              load_cogvideox_backbone("cogvideox-2b", options, {});
            }).find("text_context"),
            std::string::npos);
}

TEST(CogVideoXBackbone, RegistryRowsAndOptions) {
  for (const char* name : {"cogvideox-2b", "cogvideox-5b", "cogvideox-5b-i2v"}) {
    const auto& info = find_backbone(name);
    EXPECT_EQ(info.family, "cogvideox");
    EXPECT_EQ(info.options.keys, (std::vector<std::string>{"text_context", "size", "image_latents",
                                                           "vae_tiling", "vae_dtype"}));
  }
  // vae_dtype: nn::parse_dtype's names, float32 by default; a bad value is refused naming the key.
  EXPECT_EQ(feature_options_from("cogvideox-2b", {}).vae_dtype, torch::kFloat32);
  EXPECT_EQ(feature_options_from("cogvideox-2b", {{"vae_dtype", "bf16"}}).vae_dtype,
            torch::kBFloat16);
  EXPECT_EQ(feature_options_from("cogvideox-5b", {{"vae_dtype", "fp16"}}).vae_dtype,
            torch::kFloat16);
  EXPECT_EQ(feature_options_from("cogvideox", {{"vae_dtype", "fp32"}}).vae_dtype, torch::kFloat32);
  const auto bad = error_message([] {
    check_backbone_options("cogvideox-5b-i2v", {{"vae_dtype", "fp64"}});
  });
  EXPECT_NE(bad.find("--backbone-opt vae_dtype"), std::string::npos) << bad;
  EXPECT_NE(bad.find("'fp64'"), std::string::npos) << bad;
  EXPECT_NE(error_message([] {
              check_backbone_options("aether", {{"vae_dtype", "half"}});
            }).find("vae_dtype"),
            std::string::npos);
  EXPECT_NO_THROW(check_backbone_options("aether", {{"vae_dtype", "bf16"}}));
  EXPECT_NE(error_message([] {
              check_backbone_options("cogvideox-5b-i2v", {{"image_latents", "mode"}});
            }).find("sample or mean"),
            std::string::npos);
  EXPECT_NE(error_message([] {
              check_backbone_options("cogvideox-5b", {{"prompt", "x"}});
            }).find("prompt"),
            std::string::npos);
  const auto options = feature_options_from("cogvideox-5b", {{"size", "240x368"}});
  EXPECT_EQ(options.height, 240);
  EXPECT_EQ(options.width, 368);
  // A registered name checks the directory against its variant before loading.
  ModelDirectory dir("2b");
  BackboneOptions backbone_options;
  backbone_options.weights = dir.path().string();
  backbone_options.extra = {{"text_context", dir.context().string()}};
  EXPECT_NE(error_message([&] {
              create_backbone("cogvideox-2b", backbone_options);
            }).find("describes a CogVideoX transformer"),
            std::string::npos);
}

TEST(CogVideoXBackbone, DdimSpecIsTheSchedulersTrailingTimestep) {
  const auto time = parse_diffusion_time("ddim:steps=1000,index=749");
  EXPECT_EQ(time.timestep, 250);
  EXPECT_FALSE(time.sigma.has_value());
  for (int steps : {1000, 50, 7})
    for (int index : {0, 3, steps - 1})
      EXPECT_EQ(ddim_trailing_timestep(steps, index),
                sampler_timesteps(ScheduleConfig{}, steps).at(static_cast<std::size_t>(index)))
          << steps << " " << index;
  EXPECT_NE(error_message([] { parse_diffusion_time("ddim:steps=50,index=50"); }).find("index"),
            std::string::npos);
  EXPECT_NE(error_message([] { parse_diffusion_time("ddim:steps=50,shift=3"); }).find("shift"),
            std::string::npos);
}

TEST(CogVideoXBackbone, LatentFramesCoverFourVideoFrames) {
  EXPECT_TRUE(torch::equal(latent_frame_indices(9, 4),
                           torch::tensor({0, 1, 1, 1, 1, 2, 2, 2, 2}, torch::kLong)));
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
