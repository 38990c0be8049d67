#pragma once
// AetherV1 (AetherWorldModel/AetherV1, a fine-tune of CogVideoX-5B-I2V) as a vidprobe Backbone,
// as the paper's authors extract it (VidFM3D features/aether, the `videogen` protocol of
// OneStepAetherPipeline; docs/cogvideox.md, "Aether"): CogVideoXBackbone with Aether's channels
// (aether_layout), its RoPE time scale (kAetherRopeTimeScale) and the 4-step DPM reconstruction
// of the geometry latents before the feature pass.
//
// Weights: --weights is a CogVideoX-5B-I2V diffusers directory (vae/, scheduler/, text_encoder/)
// whose transformer/ is AetherV1's, or --backbone-opt transformer=DIR names AetherV1's
// transformer/ folder (then --weights/transformer is not read).
#include <memory>
#include <vector>

#include "vidprobe/backbones/cogvideox/backbone.h"

namespace vidprobe::backbones::cogvideox {

inline constexpr const char* kAetherName = "aether";
// Hard-coded by AetherV1PipelineCogVideoX.prepare_latents: 56 latent channels = RGB 16 |
// disparity 16 | raymap 24, and a camera condition of 24 (zeros without a raymap).
inline constexpr int kAetherLatentChannels = 16;
inline constexpr int kAetherRaymapChannels = 24;
// _default_num_inference_steps["reconstruction"] (guidance 1: no classifier-free guidance).
inline constexpr int kAetherReconstructionSteps = 4;
// AetherV1PipelineCogVideoX's scheduler (CogVideoXDPMScheduler), the sampler of `vidprobe check`.
inline constexpr Sampler kAetherSampler = Sampler::kDpm;

// {latent 16, geometry 16 + 24, image condition, camera 24, 4 reconstruction steps}: input 96,
// output 56.
ChannelLayout aether_layout();
// CogVideoX-5B-I2V's transformer with Aether's channels and RoPE time scale (--random-init).
TransformerConfig aether_transformer_config();
// cogvideox_option_keys() plus `transformer`.
FamilyOptions aether_family_options();

std::unique_ptr<Backbone> make_aether_backbone(const BackboneOptions& options);
// From options.weights (the layout above); with_decoder: the VAE's decoder too (`vidprobe check`).
std::unique_ptr<CogVideoXBackbone> load_aether_backbone(const BackboneOptions& options,
                                                        bool with_decoder);
std::vector<BackboneInfo> aether_backbones();

}  // namespace vidprobe::backbones::cogvideox
