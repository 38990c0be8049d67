#pragma once
// The single registry of backbones: name -> factory, default extraction point, input size.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"

namespace vidprobe::backbones {

// The --backbone-opt settings a family takes: their keys, and the family's parser, which reads
// them into the family's own typed struct (WAN's FeatureOptions, DINOv2's Dinov2Options, the
// oracles' OracleConfig) and throws vidprobe::Error naming the key and the value at fault. The
// CLI runs it before any work (check_backbone_options); the family's factory uses the same
// parser for the values it builds with.
struct FamilyOptions {
  std::vector<std::string> keys;
  std::function<void(const std::string& backbone, const std::map<std::string, std::string>& extra)>
      parse = {};
};

struct BackboneInfo {
  std::string name;    // e.g. "dinov2-vitl14", "wan2.1-t2v-14b", "pixels"
  std::string family;  // "pixels", "random-vit", "dinov2", "videomae", "vjepa2", "wan2.1", ...
  std::string description;
  bool needs_weights = true;  // false for the built-in baselines
  std::function<std::unique_ptr<Backbone>(const BackboneOptions&)> create;
  FamilyOptions options = {};  // the --backbone-opt settings it takes
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
                                           FamilyOptions options = {}) {
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
// Throws vidprobe::Error naming the backbone, key and value when `extra` holds a key the backbone
// does not take or a value its family's parser refuses.
void check_backbone_options(const std::string& name,
                            const std::map<std::string, std::string>& extra);
std::unique_ptr<Backbone> create_backbone(const std::string& name, const BackboneOptions& options);

}  // namespace vidprobe::backbones
