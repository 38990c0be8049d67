#pragma once
// The CogVideoX noise schedule (diffusers' CogVideoXDDIMScheduler, the scheduler of the published
// pipelines): scaled-linear betas (sqrt-linear from beta_start to beta_end), alpha_bar =
// cumprod(1 - beta), shifted towards noise as alpha_bar / (s + (1 - s) alpha_bar) with the
// SNR shift s (snr_shift_scale of scheduler_config.json), then rescaled to zero terminal SNR.
// A clean latent x0 is noised as sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise; the
// transformer predicts v at integer timesteps 0..999.
#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vidprobe::backbones::cogvideox {

struct ScheduleConfig {
  int num_train_timesteps = 1000;
  double beta_start = 0.00085;
  double beta_end = 0.012;
  double snr_shift_scale = 3.0;
  bool rescale_zero_terminal_snr = true;
};

// From a diffusers scheduler_config.json; refuses beta schedules and timestep spacings other
// than CogVideoX's (scaled_linear, trailing) by name.
ScheduleConfig schedule_config_from_json(const nlohmann::json& config, const std::string& source);

// (num_train_timesteps,) float64.
torch::Tensor alphas_cumprod(const ScheduleConfig& config);

// The timesteps an N-step sampler visits ("trailing" spacing): round(T - k T / N) - 1, k < N.
std::vector<int64_t> sampler_timesteps(const ScheduleConfig& config, int steps);

// x0, noise (B, ...); timesteps (B,) integers in 0..T-1. Computed in x0's dtype, as diffusers
// does (the table is cast before the square roots). Throws vidprobe::Error naming a timestep out
// of range.
torch::Tensor add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                        const torch::Tensor& timesteps, const ScheduleConfig& config);

}  // namespace vidprobe::backbones::cogvideox
