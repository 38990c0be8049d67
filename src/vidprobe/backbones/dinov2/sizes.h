#pragma once
// The published DINOv2 sizes (facebook/dinov2-{small,base,large,giant}, with and without register
// tokens) as plain values, without libtorch: VGGT's config takes its patch embedding from here, and
// the fuzz build parses that config.
#include <string>
#include <vector>

#include "vidprobe/nn/vit_config.h"

namespace vidprobe::backbones {

struct Dinov2Size {
  std::string size;         // the registry name is dinov2-<size>, with registers dinov2-<size>-reg
  std::string letter, hub;  // ViT-<letter>/14, facebook/dinov2-<hub>
  int width, depth, heads;
  bool swiglu;
};

// facebook/dinov2-{small,base,large,giant}: patch 14, trained position grid 37 x 37 (518 px).
const std::vector<Dinov2Size>& dinov2_sizes();
std::string dinov2_registry_name(const Dinov2Size& size, bool registers);

// A registered size: dinov2-vit{s,b,l,g}14, and with 4 register tokens dinov2-vit{s,b,l,g}14-reg.
// Throws vidprobe::Error naming `name` and the known names when it is not one of them.
nn::ViTConfig dinov2_config(const std::string& name);

}  // namespace vidprobe::backbones
