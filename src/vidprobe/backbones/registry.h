#pragma once
// The single registry of backbones: name -> factory, default extraction point, input size.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"

namespace vidprobe::backbones {

struct BackboneInfo {
  std::string name;    // e.g. "dinov2-vitl14", "wan2.1-t2v-14b", "pixels"
  std::string family;  // "pixels", "random-vit", "dinov2", "videomae", "vjepa2", "wan2.1", ...
  std::string description;
  bool needs_weights = true;  // false for the built-in baselines
  std::function<std::unique_ptr<Backbone>(const BackboneOptions&)> create;
  std::vector<std::string> options = {};  // the --backbone-opt keys it takes
  // A calibration instrument computed from the ground truth (oracles.h), never a model: reports
  // use it as the ceiling of a benchmark, not as a competitor.
  bool calibration = false;
};

// A row of a family's table when the family has no size table of its own to pass
// family_backbones (DINOv2 derives its names, VGGT has one size).
struct RegistryRow {
  std::string name, description;
};

// A family's entries from its size table, one per row (a table row has `name` and
// `description`, so each name is written once, in its family's table); make(name, options) builds
// the backbone of a row.
template <typename Size, typename Make>
std::vector<BackboneInfo> family_backbones(const std::vector<Size>& sizes,
                                           const std::string& family, Make make,
                                           std::vector<std::string> options = {}) {
  std::vector<BackboneInfo> infos;
  for (const auto& size : sizes)
    infos.push_back({.name = size.name,
                     .family = family,
                     .description = size.description,
                     .create =
                         [name = size.name, make](const BackboneOptions& backbone_options) {
                           return make(name, backbone_options);
                         },
                     .options = options});
  return infos;
}

const std::vector<BackboneInfo>& registered_backbones();
// Throws vidprobe::Error listing the known names when name is unknown.
const BackboneInfo& find_backbone(const std::string& name);
// nullptr when no backbone has that name (e.g. features imported from elsewhere).
const BackboneInfo* lookup_backbone(const std::string& name);
std::unique_ptr<Backbone> create_backbone(const std::string& name, const BackboneOptions& options);

}  // namespace vidprobe::backbones
