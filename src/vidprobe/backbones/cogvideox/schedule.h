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

#include "vidprobe/backbones/cogvideox/config.h"

namespace vidprobe::backbones::cogvideox {

// (num_train_timesteps,) float64.
torch::Tensor alphas_cumprod(const ScheduleConfig& config);

// The timesteps an N-step sampler visits ("trailing" spacing): round(T - k T / N) - 1, k < N.
std::vector<int64_t> sampler_timesteps(const ScheduleConfig& config, int steps);

// x0, noise (B, ...); timesteps (B,) integers in 0..T-1. Computed in x0's dtype, as diffusers
// does (the table is cast before the square roots). Throws vidprobe::Error naming a timestep out
// of range.
torch::Tensor add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                        const torch::Tensor& timesteps, const ScheduleConfig& config);

// The clean-sample estimate both samplers take from the network's output at `timestep`:
// v-prediction x0 = sqrt(alpha_bar) x_t - sqrt(1 - alpha_bar) v, epsilon-prediction
// x0 = (x_t - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar); alpha_bar cast to float32 first, as the
// schedulers' tables are.
torch::Tensor predicted_x0(const ScheduleConfig& config, const torch::Tensor& sample,
                           const torch::Tensor& model_output, int64_t timestep);

// One step of diffusers' CogVideoXDDIMScheduler with eta 0 (deterministic), from `timestep` to
// prev = timestep - T / steps: prev_sample = a sample + b x0 with
// a = sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t)), b = sqrt(alpha_bar_prev) - sqrt(alpha_bar_t)
// a (alpha_bar_prev = 1 past the last step with set_alpha_to_one, else alpha_bar[0]).
struct DdimStep {
  torch::Tensor prev_sample, pred_original_sample;
};
DdimStep ddim_step(const ScheduleConfig& config, int steps, const torch::Tensor& model_output,
                   int64_t timestep, const torch::Tensor& sample);

// One step of diffusers' CogVideoXDPMScheduler (its DPM-Solver++(2M) with noise, the sampler
// Aether's reconstruction runs) from `timestep` to timestep - T / steps of an N-step sampler:
// x0 from the model output (v or epsilon), then
//   prev = m1 sample - m2 x0 + s noise                      (first step, or the last one)
//   prev = m1 sample - m2 ((1 + 1/2r) x0 - 1/2r old_x0) + s second_noise   (otherwise)
// with lambda = log sqrt(alpha_bar / (1 - alpha_bar)), h = lambda(prev) - lambda(t), r = (lambda(t)
// - lambda(back)) / h, m1 = sqrt((1 - a_prev) / (1 - a_t)) e^-h, m2 = expm1(-2h) sqrt(a_prev),
// s = sqrt(1 - a_prev) sqrt(1 - e^-2h). old_x0 undefined on the first step; timestep_back is the
// timestep the caller passes as diffusers' timestep_back (Aether's pipeline: the previous one in
// its loop), -1 for none. noise is drawn first, second_noise second, as diffusers' randn calls.
struct DpmStep {
  torch::Tensor prev_sample, pred_original_sample;
};
DpmStep dpm_step(const ScheduleConfig& config, int steps, const torch::Tensor& model_output,
                 const torch::Tensor& old_pred_original_sample, int64_t timestep,
                 int64_t timestep_back, const torch::Tensor& sample, const torch::Tensor& noise,
                 const torch::Tensor& second_noise);

}  // namespace vidprobe::backbones::cogvideox
