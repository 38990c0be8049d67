#pragma once
// WAN's flow-matching noise schedule (Wan-Video/Wan2.1 wan/utils/fm_solvers*.py).
//
// A clean latent x0 is noised as x_t = (1 - sigma) x0 + sigma * noise, and the transformer is
// given timestep t = sigma * 1000. Samplers visit sigmas that are "shifted" towards the noisy end:
// sigma' = shift * s / (1 + (shift - 1) * s), with shift 5.0 for text-to-video (generate.py's
// default sample_shift) over s = linspace(0.999, 0, steps + 1)[:-1] (UniPC, 50 steps for T2V).
//
// For feature extraction vidprobe takes the transformer timestep t directly (ExtractionPoint's
// timestep, 0..999) and noises with sigma = t / 1000, so the noise level and the timestep the
// transformer sees always agree; sampler_timesteps() gives the timesteps a sampler would visit,
// e.g. to pick "step k of 50".
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace vidprobe::backbones::wan {

inline constexpr double kT2VSampleShift = 5.0;
inline constexpr int kT2VSampleSteps = 50;

double shift_sigma(double sigma, double shift);
// The sigmas of an N-step sampler (UniPC's set_timesteps with sigma_max 0.999, sigma_min 0).
std::vector<double> sampler_sigmas(int steps, double shift = kT2VSampleShift);
// The integer timesteps the sampler feeds the transformer: floor(sigma * 1000).
std::vector<int64_t> sampler_timesteps(int steps, double shift = kT2VSampleShift);

// sigma of a transformer timestep (0..1000); throws vidprobe::Error outside [0, 1000].
double sigma_of_timestep(double timestep);

// (1 - sigma) * x0 + sigma * noise.
torch::Tensor add_flow_noise(const torch::Tensor& x0, const torch::Tensor& noise, double sigma);

// Standard normal noise of the given shape from a CPU generator seeded with seed: the same
// numbers as Python's torch.randn(shape, generator=torch.Generator().manual_seed(seed)), on any
// device. draw > 0 continues the same stream (draw k = the k-th sample of that generator).
torch::Tensor seeded_noise(c10::IntArrayRef shape, std::uint64_t seed, int draw = 0);

}  // namespace vidprobe::backbones::wan
