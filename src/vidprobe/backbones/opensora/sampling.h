#pragma once
// Open-Sora 2.0's sampling loop (opensora/utils/sampling.py: get_schedule, I2VDenoiser.denoise and
// api_fn's i2v_head replacement), as `vidprobe check --sample-steps` runs it
// (docs/backbones.md, "vidprobe check"):
//   schedule  t_i = linspace(1, 0, steps + 1) in float32, each shifted by the official time_shift
//             with the alpha of the latent grid (get_res_lin_function at the tokens per frame,
//             times sqrt(T')): shifted_time and shift_alpha of backbone.h;
//   step      x += (t_{i+1} - t_i) v, v the MMDiT's velocity at t_i (given to the model in its
//             compute dtype), x kept in that dtype as the official img is;
//   guidance  1 for the text and 1 for the image: with the empty prompt as both prompt and
//             negative prompt the text term (cond - uncond) is exactly zero, and image guidance 1
//             leaves the one pass with the first-frame condition, the extraction's (the 256px
//             config's 7.5 and 3.0 would need an extra pass without the condition);
//   finally   latent frame 0 is replaced by the condition's first-frame latent (api_fn's
//             i2v_head), so the decoded video starts from the clip's own first frame.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "vidprobe/backbones/opensora/backbone.h"

namespace vidprobe::backbones::opensora {

// get_schedule(steps, H'W'/4, T') for a latent grid (T', H', W'): steps + 1 times from 1 to 0, the
// float32 values the official list holds.
std::vector<double> sampling_timesteps(int steps, const std::vector<int64_t>& latent_grid);

// The Euler loop over `timesteps` (from 1 down to 0) from `noise` (1, C, T', h, w), with the
// condition (1, C + 1, T', h, w) [mask | masked first-frame latent] of OpenSoraBackbone::condition;
// returns the final latents (float32) for decode, latent frame 0 replaced as api_fn does.
torch::Tensor sample_latents(OpenSoraBackbone& backbone, const torch::Tensor& noise,
                             const torch::Tensor& condition, const std::vector<double>& timesteps);

}  // namespace vidprobe::backbones::opensora
