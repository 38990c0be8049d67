#pragma once
// VideoMAE v1 (Tong et al. 2022) as transformers' VideoMAEModel: tubelets of 2 x 16 x 16 pixels,
// 16 frames at 224 px in training, a fixed sinusoid position table over the flattened token index,
// pre-norm blocks without LayerScale whose key projection has no bias. Checkpoints: the
// transformers layout of the hub (MCG-NJU/videomae-{base,large}, ...), also nested under
// `videomae.` in VideoMAEForPreTraining (decoder dropped) and VideoMAEForVideoClassification
// (fc_norm and classifier dropped). Per-frame maps: each 2-frame token map is repeated for its
// two frames (video_tokens.h); clips need an even number of frames. The table is computed for the
// clip's own token count, which for 16 frames at 224 px is the reference's table exactly.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/backbones/video_vit.h"

namespace vidprobe::backbones {

// A size of the family's table (`vidprobe backbones` lists them); throws naming the known sizes
// otherwise.
VideoViTConfig videomae_config(const std::string& name);

// transformers' VideoMAEModel layout (without the final layernorm, which checkpoints of
// models with mean pooling lack; when present it is checked and dropped: no block uses it).
ShapeMap videomae_hub_layout(const VideoViTConfig& config);

// Checkpoint -> VideoViT module names, after the strict layout check.
TensorMap videomae_module_tensors(TensorMap checkpoint, const VideoViTConfig& config,
                                  const std::string& source);

std::unique_ptr<Backbone> make_videomae_backbone(const std::string& name,
                                                 const VideoViTConfig& config,
                                                 const BackboneOptions& options);
// The family's registry entries, from its size table.
std::vector<BackboneInfo> videomae_backbones();

}  // namespace vidprobe::backbones
