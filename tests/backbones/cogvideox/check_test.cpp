// `vidprobe check` for CogVideoX and Aether on the small fixtures: the numbers run_diffusion_check
// reports against the same steps run with diffusers' own modules
// (tools/make_cogvideox_check_fixtures.py: VAE round trip, x0 estimate, the sampler's latents and
// their decoding), the command line, and the Aether model end to end.
#include "vidprobe/backbones/cogvideox/check.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "backbones/cogvideox/test_fixtures.h"
#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/cogvideox/aether.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/features/diffusion_check.h"

namespace vidprobe::backbones::cogvideox {
namespace {
using test_support::relative_error;
namespace fs = std::filesystem;

torch::Tensor check_golden(const std::string& key) {
  static const TensorMap reference =
      load_safetensors(testing::fixture("check_reference.safetensors"));
  return reference.at(key);
}

// The tool's clip, rebuilt with the same float64 ops (see its docstring).
torch::Tensor check_clip(int64_t frames, int64_t height, int64_t width) {
  const auto values = torch::arange(frames * 3 * height * width, torch::kFloat64) * 0.6180339887;
  return torch::remainder(values, 1.0).reshape({frames, 3, height, width}).to(torch::kFloat32);
}

// The fixture directory of `variant` with the check's scheduler config and the whole VAE.
void prepare_for_check(const testing::ModelDirectory& dir, const std::string& variant) {
  write_file_atomically(dir.path() / "scheduler" / "scheduler_config.json",
                        testing::fixture_json("check.json").at(variant).at("scheduler").dump());
  auto vae = load_checkpoint(testing::fixture("vae_encoder.safetensors"));
  vae.merge(load_checkpoint(testing::fixture("decoder.safetensors")));
  save_safetensors(dir.path() / "vae" / "diffusion_pytorch_model.safetensors", vae);
}

BackboneOptions check_options_for(const testing::ModelDirectory& dir, const std::string& size) {
  BackboneOptions options;
  options.weights = dir.path().string();
  options.extra = {{"text_context", dir.context().string()}, {"size", size}};
  return options;
}

struct CheckCase {
  std::string variant, size;
  int64_t frames, height, width;
};

class CogVideoXCheck : public ::testing::TestWithParam<CheckCase> {};

// Every number and latent of the check against diffusers: 2b through CogVideoXDDIMScheduler, 5b-i2v
// (image latents from the clip's first frame) through CogVideoXDPMScheduler.
TEST_P(CogVideoXCheck, MatchesDiffusers) {
  const auto& c = GetParam();
  testing::ModelDirectory dir(c.variant);
  prepare_for_check(dir, c.variant);
  const auto* entry = lookup_check_model(kSizedByConfigName);
  ASSERT_NE(entry, nullptr);
  const auto model = entry->make(check_options_for(dir, c.size));
  const auto& expected = testing::fixture_json("check.json").at(c.variant);
  features::CheckOptions options;
  options.time.timestep = expected.at("timestep").get<int>();
  options.noise_seed = expected.at("noise_seed").get<std::uint64_t>();
  options.sample_steps = expected.at("sample_steps").get<int>();
  const auto clip = check_clip(c.frames, c.height, c.width);
  const auto report = features::run_diffusion_check(model, clip, options, "fixture");
  EXPECT_NEAR(report.sigma, expected.at("sigma").get<double>(), 1e-6);
  EXPECT_NEAR(report.vae_psnr_db, expected.at("vae_psnr_db").get<double>(), 1e-3);
  EXPECT_NEAR(report.x0_relative_error, expected.at("x0_relative_error").get<double>(), 1e-4);
  EXPECT_NEAR(report.x0_psnr_db, expected.at("x0_psnr_db").get<double>(), 1e-3);
  const auto sampled_psnr = features::psnr_db(report.sampled, clip);
  EXPECT_NEAR(sampled_psnr, expected.at("sample_psnr_db").get<double>(), 1e-3);
  // The latents themselves, the way the check produced them.
  torch::NoGradGuard no_grad;
  const auto x0 = model.encode(clip);
  EXPECT_LT(relative_error(x0, check_golden(c.variant + "/x0")), 1e-5);
  const auto noisy = model.add_noise(
      x0, torch::randn(x0.sizes(), at::make_generator<at::CPUGeneratorImpl>(options.noise_seed)),
      options.time);
  EXPECT_LT(
      relative_error(model.predict_x0(noisy, options.time), check_golden(c.variant + "/x0_hat")),
      1e-4);
  EXPECT_LT(relative_error(model.sample(check_golden(c.variant + "/start"), options.sample_steps),
                           check_golden(c.variant + "/sampled")),
            1e-4);
}

INSTANTIATE_TEST_SUITE_P(Variants, CogVideoXCheck,
                         ::testing::Values(CheckCase{"2b", "32x48", 9, 32, 48},
                                           CheckCase{"5b-i2v", "64x96", 9, 64, 96}),
                         [](const ::testing::TestParamInfo<CheckCase>& param) {
                           return param.param.variant == "2b" ? std::string("TextToVideo2b")
                                                              : std::string("ImageToVideo5b");
                         });

// The registry's names: each size-table row, the config-sized name and aether; a sized name
// refuses the small fixture by its size, and a model directory without the decoder's tensors
// is refused naming a missing decoder key.
TEST(CogVideoXCheckEntries, AreRegisteredAndLoadStrictly) {
  for (const char* name :
       {"cogvideox-2b", "cogvideox-5b", "cogvideox-5b-i2v", "cogvideox", "aether"})
    EXPECT_NE(lookup_check_model(name), nullptr) << name;
  testing::ModelDirectory dir("2b");
  const auto sized = test_support::error_message(
      [&] { lookup_check_model("cogvideox-2b")->make(check_options_for(dir, "32x48")); });
  EXPECT_NE(sized.find("cogvideox-2b has"), std::string::npos) << sized;
  const auto missing = test_support::error_message(
      [&] { lookup_check_model(kSizedByConfigName)->make(check_options_for(dir, "32x48")); });
  EXPECT_NE(missing.find("decoder."), std::string::npos) << missing;
}

// A scheduler config naming neither CogVideoX scheduler: encode/decode/x0 work, `sample` is empty
// and the check says so when asked to sample.
TEST(CogVideoXCheckEntries, UnknownSchedulerClassLeavesNoSampler) {
  testing::ModelDirectory dir("2b");
  prepare_for_check(dir, "2b");
  auto scheduler = testing::fixture_json("check.json").at("2b").at("scheduler");
  scheduler["_class_name"] = "DDIMScheduler";
  write_file_atomically(dir.path() / "scheduler" / "scheduler_config.json", scheduler.dump());
  const auto model = lookup_check_model(kSizedByConfigName)->make(check_options_for(dir, "32x48"));
  EXPECT_FALSE(static_cast<bool>(model.sample));
  features::CheckOptions options;
  options.time.timestep = 500;
  options.sample_steps = 2;
  const auto message = test_support::error_message(
      [&] { features::run_diffusion_check(model, check_clip(9, 32, 48), options, "fixture"); });
  EXPECT_NE(message.find("no sampler"), std::string::npos) << message;
}

// Aether end to end on its fixture (with the decoder of tools/make_cogvideox_decoder_fixtures.py):
// the latents carry RGB 16 | geometry 40 channels, only the RGB ones are decoded; the RGB latents
// are the extraction's (its posterior mean x scaling, as CogVideoXBackbone::encode), and the
// sampler runs with its DPM scheduler.
TEST(AetherCheck, RunsEndToEndAndDecodesTheRgbLatents) {
  testing::AetherModelDirectory dir;
  auto vae = load_checkpoint(testing::aether_fixture("backbone_vae_encoder.safetensors"));
  vae.merge(load_checkpoint(testing::fixture("decoder_aether.safetensors")));
  save_safetensors(dir.dir() / "vae" / "diffusion_pytorch_model.safetensors", vae);
  BackboneOptions backbone_options;
  backbone_options.weights = dir.dir().string();
  backbone_options.extra = {{"size", "32x48"}};
  const auto model = lookup_check_model(kAetherName)->make(backbone_options);
  features::CheckOptions options;
  options.time.timestep = 250;
  options.sample_steps = 2;
  const auto clip = check_clip(9, 32, 48);
  const auto report = features::run_diffusion_check(model, clip, options, "fixture");
  EXPECT_EQ(report.latent_shape, (std::vector<int64_t>{1, 56, 3, 4, 6}));
  EXPECT_EQ(report.reconstruction.sizes(), clip.sizes());
  EXPECT_EQ(report.sampled.sizes(), clip.sizes());
  EXPECT_TRUE(std::isfinite(report.vae_psnr_db) && std::isfinite(report.x0_psnr_db));
  EXPECT_GT(report.x0_relative_error, 0);
  // decode reads the RGB channels only: changing the geometry ones changes nothing.
  torch::NoGradGuard no_grad;
  auto latents = model.encode(clip);
  const auto rgb_only = model.decode(latents);
  latents.slice(1, kAetherLatentChannels).fill_(3.0);
  EXPECT_TRUE(torch::equal(model.decode(latents), rgb_only));
}

// The command line, as WAN's check test: the JSON line, check.json and the frames to look at.
TEST(CogVideoXCheckCli, WritesTheReportAndFrames) {
  testing::ModelDirectory dir("2b");
  prepare_for_check(dir, "2b");
  const auto out = dir.path() / "out";
  const auto log = dir.path() / "log.txt";
  const int status = test_support::run_vidprobe(
      "check --backbone cogvideox --weights '" + dir.path().string() +
          "' --backbone-opt text_context='" + dir.context().string() +
          "' --backbone-opt size=32x48 --frames 9 --timestep 500 --sample-steps 2 --out '" +
          out.string() + "'",
      log);
  ASSERT_EQ(status, 0) << read_file(log);
  const auto report = nlohmann::json::parse(read_file(out / "check.json"));
  EXPECT_EQ(report["backbone"], "cogvideox");
  EXPECT_EQ(report["latent_shape"], nlohmann::json::array({1, 4, 3, 4, 6}));
  EXPECT_NEAR(report["sigma"].get<double>(),
              testing::fixture_json("check.json")["2b"]["sigma"].get<double>(), 1e-6);
  EXPECT_EQ(report["sample_steps"], 2);
  for (const char* folder : {"input", "recon", "x0", "sample"})
    EXPECT_TRUE(fs::exists(out / folder / "frame_0008.png")) << folder;
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
