#include "vidprobe/backbones/dinov2/sizes.h"

#include "vidprobe/core/error.h"

namespace vidprobe::backbones {

const std::vector<Dinov2Size>& dinov2_sizes() {
  static const std::vector<Dinov2Size> sizes = {
      {"vits14", "S", "small", 384, 12, 6, false},
      {"vitb14", "B", "base", 768, 12, 12, false},
      {"vitl14", "L", "large", 1024, 24, 16, false},
      {"vitg14", "g", "giant", 1536, 40, 24, true},
  };
  return sizes;
}

std::string dinov2_registry_name(const Dinov2Size& size, bool registers) {
  return "dinov2-" + size.size + (registers ? "-reg" : "");
}

nn::ViTConfig dinov2_config(const std::string& name) {
  std::string known;
  for (const auto& dims : dinov2_sizes()) {
    for (const bool registers : {false, true}) {
      known += (known.empty() ? "" : ", ") + dinov2_registry_name(dims, registers);
      if (name != dinov2_registry_name(dims, registers)) continue;
      nn::ViTConfig config;
      config.image_size = 518;
      config.patch_size = 14;
      config.width = dims.width;
      config.depth = dims.depth;
      config.heads = dims.heads;
      config.mlp_ratio = 4.0;
      config.swiglu = dims.swiglu;
      config.register_tokens = registers ? 4 : 0;
      config.antialias_pos_interpolation = registers;
      return config;
    }
  }
  throw Error("unknown DINOv2 size '" + name + "'; known: " + known);
}

}  // namespace vidprobe::backbones
