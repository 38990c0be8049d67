#include "vidprobe/backbones/wan/schedule.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "vidprobe/backbones/wan/config.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {

double shift_sigma(double sigma, double shift) {
  return shift * sigma / (1.0 + (shift - 1.0) * sigma);
}

std::vector<double> sampler_sigmas(int steps, double shift) {
  require(steps >= 1, "sampler steps must be at least 1, got " + std::to_string(steps));
  require(shift > 0, "sampler shift must be positive, got " + std::to_string(shift));
  // UniPC's training sigmas run from 1 - 1/1000 down to 0; set_timesteps spaces steps + 1 points
  // over that range and drops the last one.
  const double sigma_max = 1.0 - 1.0 / kNumTrainTimesteps, sigma_min = 0.0;
  std::vector<double> sigmas(steps);
  for (int i = 0; i < steps; ++i) {
    const double s = sigma_max + (sigma_min - sigma_max) * i / static_cast<double>(steps);
    sigmas[i] = shift_sigma(s, shift);
  }
  return sigmas;
}

std::vector<int64_t> sampler_timesteps(int steps, double shift) {
  std::vector<int64_t> timesteps;
  for (double sigma : sampler_sigmas(steps, shift))
    timesteps.push_back(static_cast<int64_t>(sigma * kNumTrainTimesteps));
  return timesteps;
}

double sigma_of_timestep(double timestep) {
  require(timestep >= 0 && timestep <= kNumTrainTimesteps,
          "diffusion timestep must be within [0, " + std::to_string(kNumTrainTimesteps) +
              "], got " + std::to_string(timestep));
  return timestep / kNumTrainTimesteps;
}

torch::Tensor add_flow_noise(const torch::Tensor& x0, const torch::Tensor& noise, double sigma) {
  return (1.0 - sigma) * x0 + sigma * noise;
}

torch::Tensor seeded_noise(c10::IntArrayRef shape, std::uint64_t seed, int draw) {
  require(draw >= 0, "noise draw index must be >= 0");
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::Tensor noise;
  for (int i = 0; i <= draw; ++i) noise = torch::randn(shape, generator, torch::kFloat32);
  return noise;
}

}  // namespace vidprobe::backbones::wan
