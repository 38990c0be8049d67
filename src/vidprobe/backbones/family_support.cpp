#include "vidprobe/backbones/family_support.h"

#include "vidprobe/core/error.h"

namespace vidprobe::backbones {

void check_clip(const torch::Tensor& clip, const InputSpec& spec, const std::string& backbone) {
  require(clip.dim() == 4 && clip.size(1) == 3,
          backbone + ": clip must be (T, 3, H, W), got " + c10::str(clip.sizes()));
  require(clip.size(2) % spec.patch_size == 0 && clip.size(3) % spec.patch_size == 0,
          backbone + ": clip size " + std::to_string(clip.size(2)) + "x" +
              std::to_string(clip.size(3)) + " is not a multiple of the patch size " +
              std::to_string(spec.patch_size));
  const int64_t frames = clip.size(0) - spec.frames_offset;
  require(frames >= spec.frames_multiple && frames % spec.frames_multiple == 0,
          backbone + ": clip has " + std::to_string(clip.size(0)) + " frames; it needs k * " +
              std::to_string(spec.frames_multiple) +
              (spec.frames_offset ? " + " + std::to_string(spec.frames_offset) : "") +
              " frames (k >= 1)");
}

int resolve_layer(const ExtractionPoint& point, int num_layers, int default_layer,
                  const std::string& backbone) {
  const int layer = point.layer == -1 ? default_layer : point.layer;
  require(layer >= 0 && layer < num_layers, backbone + ": layer " + std::to_string(point.layer) +
                                                " is outside 0.." + std::to_string(num_layers - 1) +
                                                " (or -1 for the default)");
  return layer;
}

ExtractionPoint point_at_layer(int layer) {
  ExtractionPoint point;
  point.layer = layer;
  return point;
}

}  // namespace vidprobe::backbones
