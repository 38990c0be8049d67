#include "vidprobe/backbones/registry.h"

#include <algorithm>

#include "vidprobe/backbones/baselines/baselines.h"
#include "vidprobe/backbones/baselines/oracles.h"
#include "vidprobe/backbones/cogvideox/aether.h"
#include "vidprobe/backbones/cogvideox/backbone.h"
#include "vidprobe/backbones/cogvideox/check.h"
#include "vidprobe/backbones/dinov2/dinov2.h"
#include "vidprobe/backbones/fast3r/backbone.h"
#include "vidprobe/backbones/opensora/backbone.h"
#include "vidprobe/backbones/opensora/check.h"
#include "vidprobe/backbones/vggt/model.h"
#include "vidprobe/backbones/videomae/videomae.h"
#include "vidprobe/backbones/videomae/videomaev2.h"
#include "vidprobe/backbones/vjepa/vjepa1.h"
#include "vidprobe/backbones/vjepa/vjepa2.h"
#include "vidprobe/backbones/wan/backbone.h"
#include "vidprobe/backbones/wan/check.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones {

namespace {

std::vector<BackboneInfo> baselines_and_oracles() {
  return {
      {"pixels", "pixels", "Normalised RGB patches (8x8) of each frame: the no-learning floor",
       false, make_pixels_backbone},
      {"random-vit", "random-vit",
       "DINOv2-layout ViT-S/8, 6 blocks, fixed random weights: architecture without training",
       false, make_random_vit_backbone},
      {"oracle-depth", "oracle",
       "Calibration, not a model: each frame's exact depth and camera rays (no cross-frame "
       "geometry); the ceiling for depth",
       false, [](const BackboneOptions& o) { return make_oracle_backbone(false, o); },
       oracle_family_options(), /*calibration=*/true},
      {"oracle-points", "oracle",
       "Calibration, not a model: oracle-depth plus the exact point map in the first frame's "
       "camera frame (cross-view geometry); the ceiling",
       false, [](const BackboneOptions& o) { return make_oracle_backbone(true, o); },
       oracle_family_options(), /*calibration=*/true},
  };
}

std::vector<BackboneInfo> vggt_backbones() {
  const std::vector<RegistryRow> rows = {
      {"vggt-1b",
       "VGGT-1B aggregator (facebook/VGGT-1B): frame | global tokens of a block, 518 px, whole "
       "clip at once"}};
  return family_backbones(rows, "vggt", [](const std::string& name, const BackboneOptions& o) {
    return make_vggt_backbone(name, vggt_1b_config(), o);
  });
}

}  // namespace

// Families in the order `vidprobe backbones` lists them; each family's names live in its own size
// table.
const std::vector<BackboneInfo>& registered_backbones() {
  static const std::vector<BackboneInfo> registry = [] {
    std::vector<BackboneInfo> all;
    for (const auto& family :
         {baselines_and_oracles(), dinov2_backbones(), videomae_backbones(), videomaev2_backbones(),
          vjepa1_backbones(), vjepa2_backbones(), wan::wan_backbones(),
          cogvideox::cogvideox_backbones(), cogvideox::aether_backbones(),
          opensora::opensora_backbones(), vggt_backbones(), fast3r::fast3r_backbones()})
      all.insert(all.end(), family.begin(), family.end());
    return all;
  }();
  return registry;
}

const BackboneInfo* lookup_backbone(const std::string& name) {
  for (const auto& info : registered_backbones())
    if (info.name == name) return &info;
  return nullptr;
}

const BackboneInfo& find_backbone(const std::string& name) {
  std::string known;
  for (const auto& info : registered_backbones()) {
    if (info.name == name) return info;
    known += (known.empty() ? "" : ", ") + info.name;
  }
  throw Error("unknown backbone '" + name + "'; known backbones: " + known);
}

const std::vector<CheckModelEntry>& registered_check_models() {
  static const std::vector<CheckModelEntry> entries = [] {
    std::vector<CheckModelEntry> all;
    for (const auto& family : {wan::wan_check_models(), cogvideox::cogvideox_check_models(),
                               cogvideox::aether_check_models(), opensora::opensora_check_models()})
      all.insert(all.end(), family.begin(), family.end());
    return all;
  }();
  return entries;
}

const CheckModelEntry* lookup_check_model(const std::string& backbone) {
  for (const auto& entry : registered_check_models())
    if (entry.name == backbone) return &entry;
  return nullptr;
}

void check_backbone_options(const std::string& name,
                            const std::map<std::string, std::string>& extra) {
  const auto& info = find_backbone(name);
  require_known_extra_options(name, extra, info.options.keys);
  if (info.options.parse) info.options.parse(name, extra);
}

std::unique_ptr<Backbone> create_backbone(const std::string& name, const BackboneOptions& options) {
  const auto& info = find_backbone(name);
  require(!info.needs_weights || !options.weights.empty() || options.random_init,
          "backbone '" + name + "' needs --weights (a checkpoint file or directory)");
  require(
      info.needs_weights || options.weights.empty(),
      "backbone '" + name + "' takes no --weights (it has none); got '" + options.weights + "'");
  check_backbone_options(name, options.extra);
  return info.create(options);
}

}  // namespace vidprobe::backbones
