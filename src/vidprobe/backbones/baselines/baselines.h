#pragma once
// Built-in backbones that need no checkpoint, so the demo and CI run offline:
//  * pixels      — the normalised RGB patches themselves (patch 8): a floor that any real
//                  backbone must beat;
//  * random-vit  — a DINOv2-layout ViT-S/8 (6 blocks) with a fixed random initialisation:
//                  architecture without learned features.
#include <memory>

#include "vidprobe/backbones/backbone.h"

namespace vidprobe::backbones {

std::unique_ptr<Backbone> make_pixels_backbone(const BackboneOptions& options);
std::unique_ptr<Backbone> make_random_vit_backbone(const BackboneOptions& options);

// [0, 1] RGB (T, 3, H, W) -> per-channel normalised with the spec's mean/std.
torch::Tensor normalize_clip(const torch::Tensor& clip, const InputSpec& spec);

}  // namespace vidprobe::backbones
