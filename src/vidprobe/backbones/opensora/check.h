#pragma once
// Open-Sora 2.0 as a DiffusionCheckModel (`vidprobe check`, docs/backbones.md):
//   encode      the extraction's: the Hunyuan VAE posterior (sample, or mean with
//               --backbone-opt posterior=mean) x scale_factor, (1, 16, T', h, w);
//   decode      the official AutoencoderKLCausal3D.decode (latents / scale_factor + shift_factor,
//               post_quant_conv, the causal decoder, spatially tiled as configured) mapped from
//               [-1, 1] to [0, 1];
//   add_noise   the extraction's rectified flow at t = timestep / 1000 shifted for the latent grid
//               as the sampler does: x_t = (1 - t') x0 + (1 - (1 - 1e-5)(1 - t')) n, in the
//               MMDiT's dtype; sigma = the noise coefficient 1 - (1 - 1e-5)(1 - t');
//   predict_x0  the whole MMDiT with the backbone's text and the extraction's first-frame condition
//               predicts the velocity v = (1 - 1e-5) n - x0 (the sampler steps x += (t_prev - t) v
//               from t = 1 to 0); x0 is the exact inverse of both rules (x0_from_velocity);
//   sample      the official sampler (sampling.h): get_schedule's shifted times for the latent
//               grid, Euler steps x += (t_prev - t) v of the same MMDiT call with the empty
//               prompt and the first-frame condition of the clip last encoded, guidance 1 (text
//               and image), latent frame 0 then replaced by that first-frame latent.
// The shift depends on the latent grid, which `sigma` is not given: it answers for the grid of
// the clip last encoded, and before any encode for one latent frame of the input size.
// The posterior draws the extraction makes from its noise seed are made from
// kCheckConditionSeed, so a check is reproducible.
#include <cstdint>
#include <vector>

#include "vidprobe/backbones/diffusion_check.h"

namespace vidprobe::backbones::opensora {

inline constexpr std::uint64_t kCheckConditionSeed = 0;

// One entry per registered size (mmdit_sizes()).
std::vector<CheckModelEntry> opensora_check_models();

}  // namespace vidprobe::backbones::opensora
