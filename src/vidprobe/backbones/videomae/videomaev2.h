#pragma once
// VideoMAE V2 (Wang et al. 2023, OpenGVLab/VideoMAEv2, models/modeling_finetune.py
// VisionTransformer): the same encoder as VideoMAE v1 — Conv3d tubelets of 2 x patch x patch, a
// fixed sinusoid position table, pre-norm blocks whose key projection has no bias — with
// LayerNorm eps 1e-6 and the giant's patch 14 and MLP ratio 48/11. The registered sizes have no
// LayerScale (init_values 0 in the official configs). Checkpoints: the official repository's names
// (patch_embed.proj.*, blocks.N.attn.qkv.weight, blocks.N.attn.q_bias / v_bias, ...), also under
// `model.` or `module.` wrappers; fc_norm, norm and head are dropped. Per-frame maps as VideoMAE
// (video_tokens.h): each 2-frame token map is repeated for its two frames.
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
VideoViTConfig videomaev2_config(const std::string& name);

// The official VisionTransformer's state dict names (without fc_norm / norm / head).
ShapeMap videomaev2_layout(const VideoViTConfig& config);

// Checkpoint -> VideoViT module names, after the strict layout check.
TensorMap videomaev2_module_tensors(TensorMap checkpoint, const VideoViTConfig& config,
                                    const std::string& source);

std::unique_ptr<Backbone> make_videomaev2_backbone(const std::string& name,
                                                   const VideoViTConfig& config,
                                                   const BackboneOptions& options);
// The family's registry entries, from its size table.
std::vector<BackboneInfo> videomaev2_backbones();

}  // namespace vidprobe::backbones
