#include "vidprobe/features/diffusion_check.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/image.h"

namespace vidprobe::features {
namespace fs = std::filesystem;

double psnr_db(const torch::Tensor& actual, const torch::Tensor& expected) {
  require(actual.sizes() == expected.sizes(),
          "PSNR of tensors of different shapes: " + c10::str(actual.sizes()) + " and " +
              c10::str(expected.sizes()));
  const auto a = actual.to(torch::kCPU, torch::kFloat64).clamp(0, 1);
  const auto e = expected.to(torch::kCPU, torch::kFloat64).clamp(0, 1);
  const double mse = (a - e).square().mean().item<double>();
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return -10 * std::log10(mse);
}

CheckReport run_diffusion_check(const backbones::DiffusionCheckModel& model,
                                const torch::Tensor& clip, const CheckOptions& options,
                                const std::string& clip_id) {
  require(clip.dim() == 4 && clip.size(1) == 3,
          "check: the clip must be (frames, 3, height, width), got " + c10::str(clip.sizes()));
  torch::NoGradGuard no_grad;
  CheckReport report;
  report.backbone = model.name;
  report.clip_id = clip_id;
  report.clip = clip.to(torch::kCPU, torch::kFloat32);
  report.timestep = options.time.timestep;
  model.sigma(options.time);  // refuses a time the family cannot take, before the VAE runs

  const auto x0 = model.encode(report.clip).to(torch::kFloat32);
  // Asked after encoding: Open-Sora's time shift depends on the clip's latent frame count.
  report.sigma = model.sigma(options.time);
  report.latent_shape = x0.sizes().vec();
  report.reconstruction = model.decode(x0).to(torch::kCPU, torch::kFloat32);
  require(report.reconstruction.sizes() == report.clip.sizes(),
          "check: " + model.name + " decoded " + c10::str(report.reconstruction.sizes()) +
              " from a clip of " + c10::str(report.clip.sizes()));
  report.vae_psnr_db = psnr_db(report.reconstruction, report.clip);

  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.noise_seed);
  const auto noise = torch::randn(x0.sizes(), generator, torch::kFloat32).to(x0.device());
  const auto noisy = model.add_noise(x0, noise, options.time);
  const auto x0_hat = model.predict_x0(noisy, options.time).to(x0.device(), torch::kFloat32);
  report.x0_relative_error =
      ((x0_hat - x0).norm().item<double>() / std::max(x0.norm().item<double>(), 1e-30));
  report.x0_decoded = model.decode(x0_hat).to(torch::kCPU, torch::kFloat32);
  report.x0_psnr_db = psnr_db(report.x0_decoded, report.clip);
  if (options.sample_steps > 0) {
    require(static_cast<bool>(model.sample),
            "check: " + model.name + " has no sampler yet; leave out --sample-steps");
    auto sample_generator = at::make_generator<at::CPUGeneratorImpl>(options.noise_seed + 1);
    const auto start = torch::randn(x0.sizes(), sample_generator, torch::kFloat32).to(x0.device());
    report.sample_steps = options.sample_steps;
    report.sampled = model.decode(model.sample(start, options.sample_steps).to(torch::kFloat32))
                         .to(torch::kCPU, torch::kFloat32);
  }
  return report;
}

nlohmann::json check_report_json(const CheckReport& report) {
  const auto finite_or_null = [](double value) {
    return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
  };
  return {
      {"backbone", report.backbone},
      {"clip", report.clip_id},
      {"frames", report.clip.defined() ? report.clip.size(0) : 0},
      {"height", report.clip.defined() ? report.clip.size(2) : 0},
      {"width", report.clip.defined() ? report.clip.size(3) : 0},
      {"latent_shape", report.latent_shape},
      {"timestep", report.timestep},
      {"sigma", report.sigma},
      {"vae_psnr_db", finite_or_null(report.vae_psnr_db)},
      {"x0_relative_error", report.x0_relative_error},
      {"x0_psnr_db", finite_or_null(report.x0_psnr_db)},
      {"sample_steps", report.sample_steps},
      {"psnr_convention", "frames in [0, 1], MSE over all pixels, channels and frames, peak 1"}};
}

void write_frames(const torch::Tensor& frames, const fs::path& dir) {
  require(frames.dim() == 4 && frames.size(1) == 3,
          "frames to write must be (frames, 3, height, width), got " + c10::str(frames.sizes()));
  fs::create_directories(dir);
  const auto bytes = (frames.to(torch::kCPU, torch::kFloat32).clamp(0, 1) * 255)
                         .round()
                         .to(torch::kUInt8)
                         .permute({0, 2, 3, 1})
                         .contiguous();
  const int height = static_cast<int>(bytes.size(1)), width = static_cast<int>(bytes.size(2));
  for (int64_t t = 0; t < bytes.size(0); ++t) {
    ImageU8 image(width, height, 3);
    const auto* data = bytes[t].data_ptr<std::uint8_t>();
    std::copy(data, data + image.pixels.size(), image.pixels.begin());
    char name[32];
    std::snprintf(name, sizeof(name), "frame_%04lld.png", static_cast<long long>(t));
    write_png(dir / name, image);
  }
}

void write_check_outputs(const CheckReport& report, const fs::path& out) {
  fs::create_directories(out);
  write_frames(report.clip, out / "input");
  write_frames(report.reconstruction, out / "recon");
  write_frames(report.x0_decoded, out / "x0");
  if (report.sampled.defined()) write_frames(report.sampled, out / "sample");
  // Last, so a check.json on disk means the frames beside it are complete.
  write_file_atomically(out / "check.json", check_report_json(report).dump(2) + "\n");
}

torch::Tensor write_decoded_video(const backbones::DiffusionCheckModel& model,
                                  const torch::Tensor& latents, const fs::path& dir) {
  torch::NoGradGuard no_grad;
  const auto frames = model.decode(latents).to(torch::kCPU, torch::kFloat32);
  write_frames(frames, dir);
  return frames;
}

}  // namespace vidprobe::features
