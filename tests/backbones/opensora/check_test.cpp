// `vidprobe check` for Open-Sora 2.0 on the small fixtures: encode and decode against the official
// hunyuan_vae (tools/make_opensora_fixtures.py, tools/make_opensora_decoder_fixtures.py), the
// velocity against the official MMDiT's output, sigma against the official time_shift, the
// rectified-flow x0 rule with an oracle velocity, run_diffusion_check end to end, and the sampler
// against the official api_fn (tools/make_opensora_sample_fixtures.py).
#include "vidprobe/backbones/opensora/check.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backbones/opensora/test_fixtures.h"
#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/opensora/backbone.h"
#include "vidprobe/backbones/opensora/sampling.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/features/diffusion_check.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::opensora {
namespace {
namespace fs = std::filesystem;
using fixtures::fixture;
using fixtures::fixture_json;
using fixtures::published_weights_dir;
using test_support::relative_error;

BackboneOptions os_check_options(const std::string& size, const std::string& posterior) {
  BackboneOptions options;
  options.weights = published_weights_dir("decoder_vae.safetensors").string();
  options.extra = {{"size", size}, {"posterior", posterior}};
  return options;
}

DiffusionCheckModel os_check_model(const std::string& size, const std::string& posterior) {
  const auto* entry = lookup_check_model("opensora-v2");
  EXPECT_NE(entry, nullptr);
  if (entry == nullptr) throw Error("opensora-v2 is not a registered check model");
  return entry->make(os_check_options(size, posterior));
}

DiffusionTime os_timestep(int timestep) {
  DiffusionTime time;
  time.timestep = timestep;
  return time;
}

// (1, 3, T, H, W) in [-1, 1] -> a vidprobe clip (T, 3, H, W) in [0, 1].
torch::Tensor os_as_clip(const torch::Tensor& video) {
  return ((video[0] + 1) / 2).permute({1, 0, 2, 3}).contiguous();
}

// x_t from the extraction's rule and the velocity it implies give back x0; the other sign
// convention (v = x0 - noise) does not; the official sampler's last Euler step (x_t - t v) agrees
// up to sigma_min.
TEST(OpenSoraCheck, X0RuleInvertsTheExtractionsNoising) {
  torch::manual_seed(0);
  const auto x0 = torch::randn({1, 4, 3, 4, 6}), noise = torch::randn({1, 4, 3, 4, 6});
  const auto ts = torch::tensor({0.7f});
  const auto x_t = noised_latents(x0, noise, ts);
  EXPECT_LT(relative_error(x_t, 0.3 * x0 + (1e-5 + (1 - 1e-5) * 0.7) * noise), 1e-6);
  const auto velocity = (1 - kSigmaMin) * noise - x0;
  EXPECT_LT(relative_error(x0_from_velocity(x_t, velocity, ts), x0), 1e-6);
  EXPECT_GT(relative_error(x0_from_velocity(x_t, x0 - noise, ts), x0), 0.1);
  EXPECT_LT(relative_error(x_t - 0.7 * velocity, x0), 1e-4);
}

// The check's encode is the official encode (posterior mean here), its decode the official
// decode mapped to [0, 1], both spatially tiled at this size.
TEST(OpenSoraCheck, EncodeAndDecodeAreTheOfficialVaes) {
  const auto model = os_check_model("48x64", "mean");
  EXPECT_EQ(model.name, "opensora-v2");
  const auto clip = os_as_clip(fixtures::vae_golden("large_video"));
  EXPECT_LT(relative_error(model.encode(clip), fixtures::vae_golden("large_latents")), 1e-5);
  const auto reference = [](const std::string& name) {
    return fixtures::reference_tensor("decoder_reference.safetensors", name).to(torch::kFloat32);
  };
  const auto decoded = model.decode(reference("tiled_latents"));
  EXPECT_LT(relative_error(decoded, os_as_clip(reference("tiled_decoded")).clamp(0, 1)), 1e-5);
}

// The whole MMDiT through the backbone: its velocity, packed back into tokens, is the official
// model's output for the same inputs (the fixture's first batch item, whose text the weights
// directory's empty prompt holds).
TEST(OpenSoraCheck, VelocityIsTheOfficialModelsOutput) {
  auto backbone =
      load_opensora_backbone("opensora-v2", os_check_options("32x48", "sample"),
                             feature_options_from("opensora-v2", {}), /*with_decoder=*/true);
  const auto golden = [](const std::string& name) {
    return fixtures::mmdit_golden(name).slice(0, 0, 1).to(torch::kFloat32);
  };
  const auto velocity =
      backbone->velocity(golden("latents"), golden("cond"), golden("timesteps").reshape({1}));
  EXPECT_EQ(velocity.sizes(), golden("latents").sizes());
  EXPECT_LT(relative_error(pack_latents(velocity, 2), golden("output")), 1e-4);
}

// run_diffusion_check on 9 frames at 32x48 (a 3 x 4 x 6 latent grid, tiled in the VAE both ways):
// shapes, finite numbers, and sigma from the official time_shift for that grid.
TEST(OpenSoraCheck, RunsEndToEndWithTheSamplersShiftedSigma) {
  const auto model = os_check_model("32x48", "sample");
  const auto time = os_timestep(600);
  EXPECT_THROW(model.predict_x0(torch::zeros({1, 4, 3, 4, 6}), time), Error);  // not encoded
  const auto clip = torch::remainder(torch::arange(9 * 3 * 32 * 48, torch::kFloat32) * 0.618f, 1.0f)
                        .reshape({9, 3, 32, 48});
  features::CheckOptions options;
  options.time = time;
  const auto report = features::run_diffusion_check(model, clip, options, "clip");
  EXPECT_EQ(report.latent_shape, (std::vector<int64_t>{1, 4, 3, 4, 6}));
  EXPECT_EQ(report.reconstruction.sizes(), clip.sizes());
  EXPECT_EQ(report.x0_decoded.sizes(), clip.sizes());
  EXPECT_TRUE(std::isfinite(report.x0_relative_error)) << report.x0_relative_error;
  EXPECT_GT(report.x0_relative_error, 0.0);
  EXPECT_TRUE(std::isfinite(report.vae_psnr_db));
  const auto schedule = fixture_json("schedule.json");
  const auto& official = schedule.at(2);
  ASSERT_EQ(official.at("latent_grid"), nlohmann::json({3, 4, 6}));
  ASSERT_DOUBLE_EQ(official.at("t").get<double>(), 0.6);
  const double shifted = official.at("shifted_float32").get<double>();
  EXPECT_NEAR(model.sigma(time), 1 - (1 - kSigmaMin) * (1 - shifted), 1e-6);
  EXPECT_NEAR(report.sigma, 1 - (1 - kSigmaMin) * (1 - shifted), 1e-6);  // asked after encode
  EXPECT_THROW(model.sigma(DiffusionTime{.timestep = 600, .sigma = 0.5}), Error);
  EXPECT_THROW(model.sigma(os_timestep(1001)), Error);
}

torch::Tensor sample_golden(const std::string& name) {
  return fixtures::reference_tensor("sample_reference.safetensors", name).to(torch::kFloat32);
}

std::vector<double> as_vector(const torch::Tensor& t) {
  const auto d = t.to(torch::kFloat64).contiguous();
  return {d.data_ptr<double>(), d.data_ptr<double>() + d.numel()};
}

// The schedule is get_schedule's for the 3 x 4 x 6 latent grid (its float32 values), and the
// model is called at each time but the last, as the official denoiser calls it.
TEST(OpenSoraSampler, ScheduleIsTheOfficialShiftedSchedule) {
  const auto info = fixture_json("sample.json");
  const int steps = info.at("steps").get<int>();
  const auto timesteps = sampling_timesteps(steps, {3, 4, 6});
  const auto official = as_vector(sample_golden("timesteps"));
  ASSERT_EQ(timesteps.size(), official.size());
  for (std::size_t i = 0; i < official.size(); ++i)
    EXPECT_DOUBLE_EQ(timesteps[i], official[i]) << "step " << i;
  const auto called = as_vector(sample_golden("model_timesteps"));
  ASSERT_EQ(called.size(), official.size() - 1);
  for (std::size_t i = 0; i < called.size(); ++i) EXPECT_DOUBLE_EQ(called[i], official[i]);
  // The shift depends on the latent frames: one frame is a different (less shifted) schedule.
  EXPECT_GT(timesteps[1] - sampling_timesteps(steps, {1, 4, 6})[1], 0.05);
  EXPECT_THROW(sampling_timesteps(0, {3, 4, 6}), Error);
}

// The premise of guidance 1: with the empty prompt as prompt and negative prompt, the official
// loop at the config's text guidance 7.5 gives exactly the latents of guidance 1.
TEST(OpenSoraSampler, TextGuidanceIsNullWithTheEmptyPrompt) {
  EXPECT_EQ(fixture_json("sample.json").at("text_guidance_7_5_max_abs_diff").get<double>(), 0.0);
}

// The loop from the official noise and condition: the final latents (frame 0 replaced by the
// reference latent) and their decode are the official api_fn's; the same loop on the schedule
// shifted for one latent frame misses them by far (the comparison can fail).
TEST(OpenSoraSampler, LoopIsTheOfficialApiFn) {
  auto backbone =
      load_opensora_backbone("opensora-v2", os_check_options("32x48", "sample"),
                             feature_options_from("opensora-v2", {}), /*with_decoder=*/true);
  const int steps = fixture_json("sample.json").at("steps").get<int>();
  const auto noise = sample_golden("noise"), cond = sample_golden("cond");
  const auto latents = sample_latents(*backbone, noise, cond, sampling_timesteps(steps, {3, 4, 6}));
  const double latent_error = relative_error(latents, sample_golden("latents"));
  const double denoised_error =
      relative_error(latents.slice(2, 1), sample_golden("denoised").slice(2, 1));
  EXPECT_LT(latent_error, 1e-4);
  EXPECT_LT(denoised_error, 1e-4);
  EXPECT_TRUE(torch::equal(latents.slice(2, 0, 1)[0], sample_golden("reference")));
  const auto decoded = backbone->decode(latents);
  const double decoded_error =
      relative_error(decoded, os_as_clip(sample_golden("decoded")).clamp(0, 1));
  EXPECT_LT(decoded_error, 1e-4);
  const auto wrong_shift =
      sample_latents(*backbone, noise, cond, sampling_timesteps(steps, {1, 4, 6}));
  const double wrong_error =
      relative_error(wrong_shift.slice(2, 1), sample_golden("denoised").slice(2, 1));
  EXPECT_GT(wrong_error, 1e-2);
  std::cout << "opensora sampler vs official api_fn: latents " << latent_error << ", decoded "
            << decoded_error << "; one-frame shift " << wrong_error << "\n";
}

// `vidprobe check --backbone opensora-v2` through the registry: the report, the frames and the
// sampler's decoded generation.
TEST(OpenSoraCheckCli, WritesTheReportAndFrames) {
  const auto dir = test_support::fresh_temp_dir("opensora_check_cli");
  const auto out = dir / "out";
  const auto log = dir / "log.txt";
  const int status = test_support::run_vidprobe(
      "check --backbone opensora-v2 --weights '" +
          published_weights_dir("decoder_vae.safetensors").string() +
          "' --backbone-opt size=32x48 --frames 9 --timestep 250 --sample-steps 2 --out '" +
          out.string() + "'",
      log);
  ASSERT_EQ(status, 0) << read_file(log);
  const auto report = nlohmann::json::parse(read_file(out / "check.json"));
  EXPECT_EQ(report["backbone"], "opensora-v2");
  EXPECT_EQ(report["latent_shape"], nlohmann::json::array({1, 4, 3, 4, 6}));
  EXPECT_EQ(report["sample_steps"], 2);
  for (const char* folder : {"input", "recon", "x0", "sample"})
    EXPECT_TRUE(fs::exists(out / folder / "frame_0008.png")) << folder;
}

}  // namespace
}  // namespace vidprobe::backbones::opensora
