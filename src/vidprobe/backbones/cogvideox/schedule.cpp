#include "vidprobe/backbones/cogvideox/schedule.h"

#include <cmath>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"

namespace vidprobe::backbones::cogvideox {

torch::Tensor alphas_cumprod(const ScheduleConfig& c) {
  const auto betas = torch::linspace(std::sqrt(c.beta_start), std::sqrt(c.beta_end),
                                     c.num_train_timesteps, torch::kFloat64)
                         .pow(2);
  auto alpha_bar = torch::cumprod(1.0 - betas, 0);
  alpha_bar = alpha_bar / (c.snr_shift_scale + (1.0 - c.snr_shift_scale) * alpha_bar);
  if (!c.rescale_zero_terminal_snr) return alpha_bar;
  // Lin et al. 2024, Algorithm 1: shift sqrt(alpha_bar) so the last is 0, scale so the first
  // keeps its value.
  auto root = alpha_bar.sqrt();
  const double first = root[0].item<double>(), last = root[-1].item<double>();
  root = (root - last) * (first / (first - last));
  return root.pow(2);
}

std::vector<int64_t> sampler_timesteps(const ScheduleConfig& config, int steps) {
  require(steps > 0 && steps <= config.num_train_timesteps,
          "sampler steps must be in 1.." + std::to_string(config.num_train_timesteps) + ", got " +
              std::to_string(steps));
  const double ratio = static_cast<double>(config.num_train_timesteps) / steps;
  std::vector<int64_t> timesteps;
  // numpy's arange(T, 0, -ratio): T - k * ratio while > 0; rounding halves to even like np.round.
  for (int k = 0; config.num_train_timesteps - k * ratio > 0; ++k)
    timesteps.push_back(
        static_cast<int64_t>(std::nearbyint(config.num_train_timesteps - k * ratio)) - 1);
  return timesteps;
}

torch::Tensor add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                        const torch::Tensor& timesteps, const ScheduleConfig& config) {
  require(x0.sizes() == noise.sizes(), "noise " + c10::str(noise.sizes()) +
                                           " does not match the latents " + c10::str(x0.sizes()));
  require(timesteps.numel() == x0.size(0),
          "need one timestep per batch item: " + std::to_string(timesteps.numel()) + " for " +
              std::to_string(x0.size(0)));
  const auto t = timesteps.to(torch::kCPU, torch::kLong).flatten();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t value = t[i].item<int64_t>();
    require(value >= 0 && value < config.num_train_timesteps,
            "timestep " + std::to_string(value) + " is outside 0.." +
                std::to_string(config.num_train_timesteps - 1));
  }
  const auto table = alphas_cumprod(config).to(x0.scalar_type()).index_select(0, t).to(x0.device());
  std::vector<int64_t> shape(x0.dim(), 1);
  shape[0] = x0.size(0);
  const auto alpha_bar = table.view(shape);
  return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise;
}

namespace {

// alpha_bar at t as the schedulers index it: past the last step (t < 0) 1 with set_alpha_to_one,
// else alpha_bar[0]. float32, as diffusers keeps its table.
torch::Tensor alpha_bar_at(const ScheduleConfig& config, const torch::Tensor& table, int64_t t) {
  return t >= 0 ? table[t] : (config.set_alpha_to_one ? torch::ones({}) : table[0]);
}

void require_timestep(const ScheduleConfig& config, int64_t timestep, const char* what) {
  require(timestep >= 0 && timestep < config.num_train_timesteps,
          std::string(what) + ": timestep " + std::to_string(timestep) + " is outside 0.." +
              std::to_string(config.num_train_timesteps - 1));
}

}  // namespace

torch::Tensor predicted_x0(const ScheduleConfig& config, const torch::Tensor& sample,
                           const torch::Tensor& model_output, int64_t timestep) {
  require_timestep(config, timestep, "predicted_x0");
  const auto a_t =
      alphas_cumprod(config).to(torch::kFloat32)[timestep].to(sample.device(), sample.dtype());
  return config.v_prediction ? a_t.sqrt() * sample - (1 - a_t).sqrt() * model_output
                             : (sample - (1 - a_t).sqrt() * model_output) / a_t.sqrt();
}

DdimStep ddim_step(const ScheduleConfig& config, int steps, const torch::Tensor& model_output,
                   int64_t timestep, const torch::Tensor& sample) {
  require(steps > 0, "ddim_step: steps must be positive");
  require_timestep(config, timestep, "ddim_step");
  const auto table = alphas_cumprod(config).to(torch::kFloat32);
  const auto to = [&](const torch::Tensor& t) { return t.to(sample.device(), sample.dtype()); };
  const auto a_t = to(table[timestep]);
  const auto a_prev =
      to(alpha_bar_at(config, table, timestep - config.num_train_timesteps / steps));
  const auto x0 = predicted_x0(config, sample, model_output, timestep);
  const auto a = ((1 - a_prev) / (1 - a_t)).sqrt();
  const auto b = a_prev.sqrt() - a_t.sqrt() * a;
  return {a * sample + b * x0, x0};
}

DpmStep dpm_step(const ScheduleConfig& config, int steps, const torch::Tensor& model_output,
                 const torch::Tensor& old_pred_original_sample, int64_t timestep,
                 int64_t timestep_back, const torch::Tensor& sample, const torch::Tensor& noise,
                 const torch::Tensor& second_noise) {
  const int64_t last = config.num_train_timesteps - 1;
  require(steps > 0 && timestep >= 0 && timestep <= last && timestep_back <= last,
          "dpm_step: timestep " + std::to_string(timestep) + " (back " +
              std::to_string(timestep_back) + ") is outside 0.." + std::to_string(last));
  const auto table = alphas_cumprod(config).to(torch::kFloat32);
  const int64_t prev = timestep - config.num_train_timesteps / steps;
  const auto alpha = [&](int64_t t) { return alpha_bar_at(config, table, t); };
  const auto to = [&](const torch::Tensor& t) { return t.to(sample.device(), sample.dtype()); };
  const auto a_t = to(alpha(timestep)), a_prev = to(alpha(prev));
  const auto x0 = predicted_x0(config, sample, model_output, timestep);
  const auto lambda = [](const torch::Tensor& a) { return (a / (1 - a)).sqrt().log(); };
  const auto h = lambda(a_prev) - lambda(a_t);
  const auto m1 = ((1 - a_prev) / (1 - a_t)).sqrt() * (-h).exp();
  const auto m2 = (-2 * h).expm1() * a_prev.sqrt();
  const auto s = (1 - a_prev).sqrt() * (1 - (-2 * h).exp()).sqrt();
  if (!old_pred_original_sample.defined() || prev < 0)
    return {m1 * sample - m2 * x0 + s * noise, x0};
  require(timestep_back >= 0, "dpm_step: a second-order step needs timestep_back");
  const auto r = (lambda(a_t) - lambda(to(alpha(timestep_back)))) / h;
  const auto denoised = (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * old_pred_original_sample;
  return {m1 * sample - m2 * denoised + s * second_noise, x0};
}

}  // namespace vidprobe::backbones::cogvideox
