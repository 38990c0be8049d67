#pragma once
// V-JEPA (Bardes et al. 2024, github facebookresearch/jepa src/models/vision_transformer.py):
// tubelets of 2 x 16 x 16 pixels, the 3D sin-cos position table stored in the checkpoint
// (`pos_embed`, for 16 frames at the training crop) added to the tokens and trilinearly resized
// to the clip's token grid as the official interpolate_pos_encoding does (video_vit.h
// kStoredTable), pre-norm blocks without LayerScale. Features: a block's output; the last block
// is read without the final norm, as the paper's extraction (VidFM3D features/vjepa) reads it.
//
// Checkpoints: the published pre-training files (vitl16.pth.tar, vith16.pth.tar,
// vith16-384.pth.tar), zip-format torch.save pickles read without executing code
// (io/pickle_torch.h): the `encoder` entry, keys under `module.backbone.`; the predictor, target
// encoder and optimizer state are dropped, the final norm is checked and dropped. The same keys
// in a safetensors file (`encoder.module.backbone.*`) load too.
//
// --backbone-opt size=HxW (multiples of 16) sets the input size (default: the crop, square);
// spaced_clips=N splits a clip into N clips sharing frame 0 (video_tokens.h spaced_partition),
// the paper's 5 clips x 16 frames over 76 frames at 480 x 832 (extraction preset vidfm3d).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/backbones/video_vit.h"

namespace vidprobe::backbones {

// A size of the family's table; throws naming the known sizes otherwise.
VideoViTConfig vjepa1_config(const std::string& name);

// The official encoder's state dict (patch_embed.proj, pos_embed, blocks.*, norm), without the
// checkpoint's `encoder.module.backbone.` prefix.
ShapeMap vjepa1_layout(const VideoViTConfig& config);

TensorMap vjepa1_module_tensors(TensorMap checkpoint, const VideoViTConfig& config,
                                const std::string& source);

// --backbone-opt size=HxW, spaced_clips=N; throws vidprobe::Error naming the key and value.
VideoInput vjepa1_input_from(const std::string& backbone, const VideoViTConfig& config,
                             const std::map<std::string, std::string>& extra);
FamilyOptions vjepa1_family_options();

std::unique_ptr<Backbone> make_vjepa1_backbone(const std::string& name,
                                               const VideoViTConfig& config,
                                               const BackboneOptions& options);
// The family's registry entries, from its size table.
std::vector<BackboneInfo> vjepa1_backbones();

}  // namespace vidprobe::backbones
