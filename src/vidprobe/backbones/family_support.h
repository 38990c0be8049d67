#pragma once
// Small pieces shared by the checkpoint-backed families (DINOv2, VideoMAE, V-JEPA 2): input
// validation, extraction-point resolution and size lookup with messages that name the backbone.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones {

// Throws vidprobe::Error unless clip is (T, 3, H, W) with H, W multiples of spec.patch_size and
// T = k * spec.frames_multiple + spec.frames_offset (k >= 1).
void check_clip(const torch::Tensor& clip, const InputSpec& spec, const std::string& backbone);

// point.layer, or default_layer when it is -1; throws naming the valid range otherwise.
int resolve_layer(const ExtractionPoint& point, int num_layers, int default_layer,
                  const std::string& backbone);

ExtractionPoint point_at_layer(int layer);

// The row of `name` in a family's size table (rows with a `name` member, written once there);
// throws vidprobe::Error listing the table's names otherwise.
template <typename Size>
const Size& find_size(const std::vector<Size>& sizes, const std::string& name,
                      const std::string& family) {
  std::string known;
  for (const auto& size : sizes) {
    if (size.name == name) return size;
    known += (known.empty() ? "" : ", ") + size.name;
  }
  throw Error("unknown " + family + " size '" + name + "'; known: " + known);
}

}  // namespace vidprobe::backbones
