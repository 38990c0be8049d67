#pragma once
// Small pieces shared by the checkpoint-backed families (DINOv2, VideoMAE, V-JEPA 2): input
// validation and extraction-point resolution with messages that name the backbone.
#include <torch/torch.h>

#include <string>

#include "vidprobe/backbones/backbone.h"

namespace vidprobe::backbones {

// Throws vidprobe::Error unless clip is (T, 3, H, W) with H, W multiples of spec.patch_size and
// T = k * spec.frames_multiple + spec.frames_offset (k >= 1).
void check_clip(const torch::Tensor& clip, const InputSpec& spec, const std::string& backbone);

// point.layer, or default_layer when it is -1; throws naming the valid range otherwise.
int resolve_layer(const ExtractionPoint& point, int num_layers, int default_layer,
                  const std::string& backbone);

ExtractionPoint point_at_layer(int layer);

}  // namespace vidprobe::backbones
