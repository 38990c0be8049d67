#pragma once
// Where on its noise schedule a diffusion backbone's features are read: the timestep the network
// is given and the noise level sigma the latents are noised to. A bare timestep t means sigma =
// t / 1000; a sampler's schedule decouples the two, and the paper's extraction takes its noise
// level from one: diffusers' UniPCMultistepScheduler with flow sigmas (WAN2.1), flow shift 3,
// set_timesteps(1000), index 749 -> timestep 502 and sigma 0.5023265 (diffusers >= 0.37), or
// timestep 500 and sigma 0.5009977 with the formula of diffusers 0.32-0.36, current when the
// authors' code was released. Checked against both versions' own outputs
// (tests/fixtures/wan/schedule.json, tools/make_wan_schedule_fixtures.py).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vidprobe::backbones {

struct DiffusionTime {
  int timestep = 0;             // what the network is given
  std::optional<double> sigma;  // the noise level; unset = timestep / 1000
};

// "T" (0..1000), "sigma=S" (timestep = int(1000 S)),
// "unipc:shift=S,steps=N,index=I[,diffusers=current|0.36]", or "ddim:steps=N,index=I" (the
// timestep only, sigma unset: a DDIM backbone such as CogVideoX noises by its own alphas_cumprod).
// Throws vidprobe::Error naming the malformed part.
DiffusionTime parse_diffusion_time(const std::string& spec);

enum class UniPcFormula {
  kCurrent,  // diffusers >= 0.37: sigma_i = f(1 - i d), the first lowered by 1e-6 from 1
  kFlip,     // diffusers 0.32 - 0.36: sigma_i = f((steps - i) d), never reaching 1
};

// diffusers' UniPCMultistepScheduler(use_flow_sigmas, flow_shift) after set_timesteps(steps):
// sigmas (float32 values, as it stores them) and the integer timesteps it feeds the network.
struct FlowSchedule {
  std::vector<double> sigmas;
  std::vector<std::int64_t> timesteps;
};
FlowSchedule unipc_flow_schedule(double shift, int steps, UniPcFormula formula,
                                 int num_train_timesteps = 1000);

// timesteps[index] of a DDIM sampler with "trailing" spacing (CogVideoXDDIMScheduler after
// set_timesteps(steps)): round(T - index * T / steps) - 1, halves to even as numpy rounds.
std::int64_t ddim_trailing_timestep(int steps, int index, int num_train_timesteps = 1000);

// The sigma its add_noise applies for timesteps[index]: it looks the timestep up again and takes
// the second match when the integer timesteps repeat (early indices at 1000 steps).
double applied_sigma(const FlowSchedule& schedule, int index);

}  // namespace vidprobe::backbones
