#pragma once
// CogVideoX 1.0 and Aether as DiffusionCheckModels (`vidprobe check`, docs/cogvideox.md):
//   encode      the backbone's own: the clip's VAE posterior mean x scaling_factor (Aether: then
//               its geometry channels from the 4-step reconstruction, as its extraction builds
//               them), returned as (1, C, F', h, w);
//   decode      the video latent channels (Aether: the RGB ones, the first 16) divided by
//               scaling_factor through the VAE decoder, as the pipelines' decode_latents;
//   add_noise   DDPM's forward rule x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) n with the
//               directory's scheduler config (schedule.h); sigma = sqrt(1 - alpha_bar);
//   predict_x0  the whole transformer on [x_t | condition] with the backbone's text context,
//               x0 = sqrt(alpha_bar) x_t - sqrt(1 - alpha_bar) v (v-prediction; epsilon configs
//               use their own rule); the condition is the extraction's: I2V image latents from the
//               first frame of the clip last encoded, Aether's zero camera channels after them;
//   sample      the pipeline's loop (CogVideoXDDIMScheduler or CogVideoXDPMScheduler) with that
//               condition and guidance 1: with the empty prompt there is nothing to guide
//               towards, so one transformer pass per step (as WAN's check).
// The random draws the extraction makes from its noise seed (the I2V posterior sample's eps,
// Aether's reconstruction) are made from kCheckConditionSeed, the DPM sampler's step noise from
// kCheckSamplerSeed, so a check is reproducible.
#include <cstdint>
#include <vector>

#include "vidprobe/backbones/diffusion_check.h"

namespace vidprobe::backbones::cogvideox {

inline constexpr std::uint64_t kCheckConditionSeed = 0;
inline constexpr std::uint64_t kCheckSamplerSeed = 1;

// The size table's variants (each with the sampler its row names) and the config-sized
// `cogvideox` (the sampler scheduler_config.json's _class_name names; none: no `sample`).
std::vector<CheckModelEntry> cogvideox_check_models();
// `aether` (its pipeline's CogVideoXDPMScheduler).
std::vector<CheckModelEntry> aether_check_models();

}  // namespace vidprobe::backbones::cogvideox
