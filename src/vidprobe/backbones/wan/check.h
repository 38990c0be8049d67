#pragma once
// WAN2.1 as a DiffusionCheckModel (`vidprobe check`, docs/wan.md): the VAE encoder and decoder
// from the same checkpoint, latents normalised with the VAE config's latents_mean / latents_std
// (and de-normalised before decoding, as diffusers' WanPipeline does), flow-matching noise
// x_t = (1 - sigma) x0 + sigma n, and the transformer's velocity v with the backbone's text
// context (the empty prompt by default) giving x0_hat = x_t - sigma v.
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/diffusion_check.h"

namespace vidprobe::backbones::wan {

// name: a registered WAN name; options as for the backbone (--backbone-opt settings in extra).
DiffusionCheckModel make_wan_check_model(const std::string& name, const BackboneOptions& options);
// One entry per registered WAN name (defined in backbone.cpp, from its size table).
std::vector<CheckModelEntry> wan_check_models();

}  // namespace vidprobe::backbones::wan
