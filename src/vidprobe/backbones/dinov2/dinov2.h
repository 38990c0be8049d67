#pragma once
// DINOv2 (Oquab et al. 2023), the paper's per-frame image baseline: each frame goes through the
// ViT on its own. Sizes ViT-S/B/L/g with patch 14, with and without 4 register tokens
// (Darcet et al. 2024), as published on the model hubs:
//  * transformers layout (facebook/dinov2-*, facebook/dinov2-with-registers-*): Dinov2Model /
//    Dinov2WithRegistersModel keys, also nested under `dinov2.` / `dinov2_with_registers.` in
//    *ForImageClassification checkpoints (the classifier is dropped);
//  * facebookresearch/dinov2 layout (torch.hub weights saved as safetensors): `blocks.N.attn.qkv`,
//    `ls1.gamma`, `mlp.w12` (ViT-g), ...
// The position embedding (trained at 518 px, a 37 x 37 grid) is resampled to the input grid
// exactly as transformers does: bicubic, antialiased only for the register models.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/dinov2/sizes.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/nn/vit.h"

namespace vidprobe::backbones {

// The transformers checkpoint layout of a configuration (Dinov2Model or, with register tokens,
// Dinov2WithRegistersModel), computed from the configuration alone.
ShapeMap dinov2_hub_layout(const nn::ViTConfig& config);
// The facebookresearch/dinov2 (torch.hub) layout of a configuration: patch_embed.proj.*,
// blocks.N.*, ls1.gamma, mask_token, ... (VGGT's aggregator.patch_embed.* uses it).
ShapeMap dinov2_original_layout(const nn::ViTConfig& config);

// Checkpoint tensors in either published layout -> the ViT module's names, after a strict check
// against the layout (vidprobe::Error listing mismatching keys; `source` names the checkpoint).
TensorMap dinov2_module_tensors(TensorMap checkpoint, const nn::ViTConfig& config,
                                const std::string& source);

// A DINOv2 backbone of any configuration (registered sizes or test configurations). Loads
// options.weights strictly; with no weights and options.random_init, a seeded random ViT.
// Input: 224 x 224 (or --backbone-opt size=HxW, multiples of the patch: the paper's extraction
// feeds 420 x 728), ImageNet mean/std; default point: the last block; --backbone-opt
// final_norm=1 reads the tokens after the final LayerNorm (transformers' last_hidden_state, what
// the paper's extraction keeps) instead of the block's raw output.
struct Dinov2Options {
  int height = 0, width = 0;  // 0: 16 patches a side (224 x 224 for patch 14)
  bool final_norm = false;
};
// --backbone-opt size=HxW (multiples of patch_size), final_norm=0|1; throws vidprobe::Error
// naming the key and value at fault.
Dinov2Options dinov2_options_from(const std::string& backbone, int patch_size,
                                  const std::map<std::string, std::string>& extra);
// The family's --backbone-opt settings (keys, parsed by dinov2_options_from).
FamilyOptions dinov2_family_options();
std::unique_ptr<Backbone> make_dinov2_backbone(const std::string& name, const nn::ViTConfig& config,
                                               const BackboneOptions& options);

// The family's registry entries, from its size table.
std::vector<BackboneInfo> dinov2_backbones();

}  // namespace vidprobe::backbones
