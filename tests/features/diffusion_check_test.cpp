// The diffusion check's arithmetic on a stand-in model whose parts are known exactly: an identity
// "VAE" and a network that predicts x0 perfectly or not at all.
#include "vidprobe/features/diffusion_check.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <limits>

#include "vidprobe/core/error.h"

namespace vidprobe::features {
namespace {

// Latents are the clip itself, (1, 3, T, H, W) scaled to [-1, 1]; flow-matching noise; the
// "network" returns x_t itself as its x0 estimate.
backbones::DiffusionCheckModel identity_model() {
  backbones::DiffusionCheckModel model;
  model.name = "identity";
  model.encode = [](const torch::Tensor& clip) {
    return (clip * 2 - 1).permute({1, 0, 2, 3}).unsqueeze(0);
  };
  model.decode = [](const torch::Tensor& latents) {
    return (latents[0].permute({1, 0, 2, 3}) + 1) / 2;
  };
  model.sigma = [](const backbones::DiffusionTime& time) { return time.timestep / 1000.0; };
  model.add_noise = [](const torch::Tensor& x0, const torch::Tensor& noise,
                       const backbones::DiffusionTime& time) {
    const double sigma = time.timestep / 1000.0;
    return (1 - sigma) * x0 + sigma * noise;
  };
  model.predict_x0 = [](const torch::Tensor& noisy, const backbones::DiffusionTime&) {
    return noisy;
  };
  return model;
}

torch::Tensor test_clip() {
  torch::manual_seed(3);
  return torch::rand({5, 3, 8, 8});
}

TEST(DiffusionCheck, PsnrFollowsItsConvention) {
  const auto a = torch::zeros({2, 3, 4, 4});
  EXPECT_TRUE(std::isinf(psnr_db(a, a)));
  // MSE 0.01 -> 20 dB; values outside [0, 1] are clamped first (a - 0.5 -> 0).
  EXPECT_NEAR(psnr_db(a + 0.1, a), 20.0, 1e-5);  // 0.1 in float32
  EXPECT_TRUE(std::isinf(psnr_db(a - 0.5, a)));
  EXPECT_THROW(psnr_db(a, torch::zeros({1})), Error);
}

TEST(DiffusionCheck, PerfectPredictionAndIdentityVaeGiveNoError) {
  auto model = identity_model();
  const auto clip = test_clip();
  // The stand-in network knows x0 (the encoding of this clip).
  const auto x0 = model.encode(clip);
  model.predict_x0 = [x0](const torch::Tensor&, const backbones::DiffusionTime&) { return x0; };
  CheckOptions options;
  options.time.timestep = 500;
  const auto report = run_diffusion_check(model, clip, options, "c");
  EXPECT_GT(report.vae_psnr_db, 100);
  EXPECT_DOUBLE_EQ(report.x0_relative_error, 0);
  EXPECT_GT(report.x0_psnr_db, 100);
  EXPECT_DOUBLE_EQ(report.sigma, 0.5);
  EXPECT_EQ(report.latent_shape, (std::vector<int64_t>{1, 3, 5, 8, 8}));
}

// A network that returns x_t: the error grows with the noise level.
TEST(DiffusionCheck, X0ErrorGrowsWithTheNoiseLevel) {
  const auto model = identity_model();
  const auto clip = test_clip();
  CheckOptions low, high;
  low.time.timestep = 100;
  high.time.timestep = 800;
  const auto a = run_diffusion_check(model, clip, low, "c");
  const auto b = run_diffusion_check(model, clip, high, "c");
  EXPECT_GT(a.x0_relative_error, 0);
  EXPECT_GT(b.x0_relative_error, 4 * a.x0_relative_error);
  EXPECT_GT(a.x0_psnr_db, b.x0_psnr_db + 5);
  // The same seed draws the same noise.
  EXPECT_DOUBLE_EQ(run_diffusion_check(model, clip, low, "c").x0_relative_error,
                   a.x0_relative_error);
  const auto json = check_report_json(a);
  EXPECT_EQ(json["timestep"], 100);
  EXPECT_DOUBLE_EQ(json["x0_relative_error"].get<double>(), a.x0_relative_error);
  auto exact = a;
  exact.vae_psnr_db = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(check_report_json(exact)["vae_psnr_db"].is_null());  // +inf is not JSON
}

TEST(DiffusionCheck, WritesFramesAndTheReport) {
  const auto model = identity_model();
  CheckOptions options;
  options.time.timestep = 300;
  const auto report = run_diffusion_check(model, test_clip(), options, "c");
  const auto out = std::filesystem::temp_directory_path() /
                   ("vidprobe_diffusion_check_" + std::to_string(::getpid()));
  std::filesystem::remove_all(out);
  write_check_outputs(report, out);
  EXPECT_TRUE(std::filesystem::exists(out / "check.json"));
  EXPECT_TRUE(std::filesystem::exists(out / "recon" / "frame_0004.png"));
  const auto frames = write_decoded_video(model, model.encode(test_clip()), out / "sample");
  EXPECT_EQ(frames.sizes(), (std::vector<int64_t>{5, 3, 8, 8}));
  EXPECT_TRUE(std::filesystem::exists(out / "sample" / "frame_0000.png"));
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace vidprobe::features
