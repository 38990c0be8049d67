#pragma once
// V-JEPA 2 (Assran et al. 2025) as transformers' VJEPA2Model encoder: tubelets of 2 x 16 x 16
// pixels, no additive position embedding, 3D rotary positions (frame, row, column) on queries and
// keys, pre-norm blocks without LayerScale. Checkpoints: the transformers layout of the hub
// (facebook/vjepa2-vit{l,h,g}-fpc64-{256,384}: `encoder.*`, the pre-training predictor
// `predictor.*` is dropped), also nested under `vjepa2.` in VJEPA2ForVideoClassification (pooler
// and classifier dropped). Per-frame maps: each 2-frame token map repeated for its two frames
// (video_tokens.h); clips need an even number of frames.
//
// Rotary positions follow the clip's own token grid. transformers derives them from the
// configured crop size instead, which is the same grid at the native (square) input size only;
// at other sizes this implementation keeps each token's true row and column.
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
VideoViTConfig vjepa2_config(const std::string& name);

// transformers' VJEPA2Model encoder layout (`encoder.*`, final layernorm included; it is checked
// and dropped: no block uses it).
ShapeMap vjepa2_hub_layout(const VideoViTConfig& config);

TensorMap vjepa2_module_tensors(TensorMap checkpoint, const VideoViTConfig& config,
                                const std::string& source);

std::unique_ptr<Backbone> make_vjepa2_backbone(const std::string& name,
                                               const VideoViTConfig& config,
                                               const BackboneOptions& options);
// The family's registry entries, from its size table.
std::vector<BackboneInfo> vjepa2_backbones();

}  // namespace vidprobe::backbones
