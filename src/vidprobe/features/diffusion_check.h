#pragma once
// `vidprobe check`: is a diffusion checkpoint, its latent scaling and its conditioning right,
// before hours of extraction? On one clip it measures
//   (a) the VAE's reconstruction: encode, decode, PSNR against the input;
//   (b) the network's clean-latent estimate at one noise level: x0 noised to x_t with seeded
//       noise, x0_hat from the network, the relative error ||x0_hat - x0|| / ||x0|| (L2 over all
//       latent entries) and the PSNR of decode(x0_hat) against the input.
// PSNR convention: frames in [0, 1] (the VAE's [-1, 1] mapped by (x + 1) / 2, clamped), the mean
// squared error over every pixel, channel and frame, 10 log10(1 / MSE) dB (peak 1).
//
// With real weights a right setup shows a high (a) and a low error in (b) at moderate noise; a
// wrong VAE, a wrong latent scaling (latents_mean / latents_std) or wrong conditioning shows at
// once. Note that (a) alone cannot see the latent scaling: encode normalises and decode
// de-normalises with the same statistics; (b) can, because the noise has unit scale.
//
//   (c) with sample_steps, a short generation with the family's own sampler from seeded noise,
//       decoded: the look of it tells whether checkpoint and conditioning produce video at all.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "vidprobe/backbones/diffusion_check.h"

namespace vidprobe::features {

struct CheckOptions {
  backbones::DiffusionTime time;
  std::uint64_t noise_seed = 0;
  // > 0: also run the family's sampler for this many steps from seeded noise (noise_seed + 1)
  // and decode the result (c): a full generation, which only right weights make look like video.
  int sample_steps = 0;
};

struct CheckReport {
  std::string backbone, clip_id;
  int timestep = 0;
  double sigma = 0;
  double vae_psnr_db = 0;
  double x0_relative_error = 0;
  double x0_psnr_db = 0;
  std::vector<int64_t> latent_shape;
  torch::Tensor clip;            // (T, 3, H, W) in [0, 1], the input
  torch::Tensor reconstruction;  // decode(encode(clip))
  torch::Tensor x0_decoded;      // decode(x0_hat)
  int sample_steps = 0;
  torch::Tensor sampled;  // decode(sample(noise, sample_steps)) when sample_steps > 0
};

// PSNR in dB of two (…, H, W) tensors in [0, 1] (both clamped), peak 1; +inf when equal.
double psnr_db(const torch::Tensor& actual, const torch::Tensor& expected);

// clip (T, 3, H, W) in [0, 1] at model.input's size, T fitting its frame rule.
CheckReport run_diffusion_check(const backbones::DiffusionCheckModel& model,
                                const torch::Tensor& clip, const CheckOptions& options,
                                const std::string& clip_id);

// The report's numbers (no tensors) as one JSON object.
nlohmann::json check_report_json(const CheckReport& report);

// Writes out/check.json (atomically), out/recon/frame_NNNN.png (the VAE reconstruction),
// out/x0/frame_NNNN.png (decode(x0_hat)), out/input/frame_NNNN.png and, after sampling,
// out/sample/frame_NNNN.png.
void write_check_outputs(const CheckReport& report, const std::filesystem::path& out);

// Frames (T, 3, H, W) in [0, 1] -> dir/frame_NNNN.png (each written atomically).
void write_frames(const torch::Tensor& frames, const std::filesystem::path& dir);

// The decoding step of a sampling run: final latents (the network's space) -> decoded frames in dir
// as PNGs; returns the frames (T, 3, H, W) in [0, 1].
torch::Tensor write_decoded_video(const backbones::DiffusionCheckModel& model,
                                  const torch::Tensor& latents, const std::filesystem::path& dir);

}  // namespace vidprobe::features
