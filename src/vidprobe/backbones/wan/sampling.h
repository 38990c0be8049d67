#pragma once
// WAN2.1 text-to-video sampling as diffusers' WanPipeline runs it: UniPC over the flow schedule
// (flow_unipc_sampler.h) with classifier-free guidance against a negative prompt, starting from
// given latents and ending at the (still normalised) clean latents the VAE decoder takes after
// de-normalising (latents * latents_std + latents_mean).
#include <torch/torch.h>

#include "vidprobe/backbones/flow_unipc_sampler.h"
#include "vidprobe/backbones/wan/dit.h"

namespace vidprobe::backbones::wan {

// The scheduler options of Wan-AI/Wan2.1-T2V-*-Diffusers (scheduler_config.json): solver order 2,
// bh2, lower-order final step, final sigma 0, 1000 training timesteps, the given flow shift
// (3.0 there and for 480p; WAN's own generate.py uses 5.0, the value for 720p).
FlowUniPcOptions t2v_sampler_options(double flow_shift = 3.0);

// latents (B, 16, F, H, W) initial noise; context and negative_context (B, L, text_dim) text
// encoder outputs (the negative one is used only when options.guidance_scale > 1). The transformer
// is called once (guidance <= 1) or twice per step; each context is embedded once.
torch::Tensor sample_latents(const Transformer& transformer, const torch::Tensor& latents,
                             const torch::Tensor& context, const torch::Tensor& negative_context,
                             const SamplingOptions& options);

}  // namespace vidprobe::backbones::wan
