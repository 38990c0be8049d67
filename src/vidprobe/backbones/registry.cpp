#include "vidprobe/backbones/registry.h"

#include <algorithm>

#include "vidprobe/backbones/baselines.h"
#include "vidprobe/backbones/dinov2.h"
#include "vidprobe/backbones/oracles.h"
#include "vidprobe/backbones/vggt.h"
#include "vidprobe/backbones/videomae.h"
#include "vidprobe/backbones/videomaev2.h"
#include "vidprobe/backbones/vjepa2.h"
#include "vidprobe/backbones/wan_backbone.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones {

const std::vector<BackboneInfo>& registered_backbones() {
  static const std::vector<BackboneInfo> registry = {
      {"pixels", "pixels", "Normalised RGB patches (8x8) of each frame: the no-learning floor",
       false, make_pixels_backbone},
      {"random-vit", "random-vit",
       "DINOv2-layout ViT-S/8, 6 blocks, fixed random weights: architecture without training",
       false, make_random_vit_backbone},
      {"oracle-depth", "oracle",
       "Calibration, not a model: each frame's exact depth and camera rays (no cross-frame "
       "geometry); the ceiling for depth",
       false, [](const BackboneOptions& o) { return make_oracle_backbone(false, o); },
       oracle_option_keys(), /*calibration=*/true},
      {"oracle-points", "oracle",
       "Calibration, not a model: oracle-depth plus the exact point map in the first frame's "
       "camera frame (cross-view geometry); the ceiling",
       false, [](const BackboneOptions& o) { return make_oracle_backbone(true, o); },
       oracle_option_keys(), /*calibration=*/true},
      {"dinov2-vits14", "dinov2", "DINOv2 ViT-S/14 (facebook/dinov2-small), per frame", true,
       dinov2_factory("dinov2-vits14"), dinov2_option_keys()},
      {"dinov2-vitb14", "dinov2", "DINOv2 ViT-B/14 (facebook/dinov2-base), per frame", true,
       dinov2_factory("dinov2-vitb14"), dinov2_option_keys()},
      {"dinov2-vitl14", "dinov2", "DINOv2 ViT-L/14 (facebook/dinov2-large), per frame", true,
       dinov2_factory("dinov2-vitl14"), dinov2_option_keys()},
      {"dinov2-vitg14", "dinov2", "DINOv2 ViT-g/14 (facebook/dinov2-giant), per frame", true,
       dinov2_factory("dinov2-vitg14"), dinov2_option_keys()},
      {"dinov2-vits14-reg", "dinov2",
       "DINOv2 ViT-S/14 with 4 registers (facebook/dinov2-with-registers-small), per frame", true,
       dinov2_factory("dinov2-vits14-reg"), dinov2_option_keys()},
      {"dinov2-vitb14-reg", "dinov2",
       "DINOv2 ViT-B/14 with 4 registers (facebook/dinov2-with-registers-base), per frame", true,
       dinov2_factory("dinov2-vitb14-reg"), dinov2_option_keys()},
      {"dinov2-vitl14-reg", "dinov2",
       "DINOv2 ViT-L/14 with 4 registers (facebook/dinov2-with-registers-large), per frame", true,
       dinov2_factory("dinov2-vitl14-reg"), dinov2_option_keys()},
      {"dinov2-vitg14-reg", "dinov2",
       "DINOv2 ViT-g/14 with 4 registers (facebook/dinov2-with-registers-giant), per frame", true,
       dinov2_factory("dinov2-vitg14-reg"), dinov2_option_keys()},
      {"videomae-base", "videomae",
       "VideoMAE ViT-B, tubelet 2x16x16, 16 frames (MCG-NJU/videomae-base)", true,
       videomae_factory("videomae-base")},
      {"videomae-large", "videomae",
       "VideoMAE ViT-L, tubelet 2x16x16, 16 frames (MCG-NJU/videomae-large)", true,
       videomae_factory("videomae-large")},
      {"videomae-huge", "videomae",
       "VideoMAE ViT-H, tubelet 2x16x16, 16 frames (MCG-NJU/videomae-huge-finetuned-kinetics)",
       true, videomae_factory("videomae-huge")},
      {"videomaev2-base", "videomaev2",
       "VideoMAE V2 ViT-B, tubelet 2x16x16, 16 frames (OpenGVLab/VideoMAEv2-Base)", true,
       videomaev2_factory("videomaev2-base")},
      {"videomaev2-large", "videomaev2",
       "VideoMAE V2 ViT-L, tubelet 2x16x16, 16 frames (OpenGVLab/VideoMAEv2-Large)", true,
       videomaev2_factory("videomaev2-large")},
      {"videomaev2-huge", "videomaev2",
       "VideoMAE V2 ViT-H, tubelet 2x16x16, 16 frames (OpenGVLab/VideoMAEv2-Huge)", true,
       videomaev2_factory("videomaev2-huge")},
      {"videomaev2-giant", "videomaev2",
       "VideoMAE V2 ViT-g, tubelet 2x14x14, 16 frames (OpenGVLab/VideoMAEv2-giant)", true,
       videomaev2_factory("videomaev2-giant")},
      {"vjepa2-vitl-fpc64-256", "vjepa2",
       "V-JEPA 2 ViT-L, 3D RoPE, 256 px (facebook/vjepa2-vitl-fpc64-256)", true,
       vjepa2_factory("vjepa2-vitl-fpc64-256")},
      {"vjepa2-vith-fpc64-256", "vjepa2",
       "V-JEPA 2 ViT-H, 3D RoPE, 256 px (facebook/vjepa2-vith-fpc64-256)", true,
       vjepa2_factory("vjepa2-vith-fpc64-256")},
      {"vjepa2-vitg-fpc64-256", "vjepa2",
       "V-JEPA 2 ViT-g, 3D RoPE, 256 px (facebook/vjepa2-vitg-fpc64-256)", true,
       vjepa2_factory("vjepa2-vitg-fpc64-256")},
      {"vjepa2-vitg-fpc64-384", "vjepa2",
       "V-JEPA 2 ViT-g, 3D RoPE, 384 px (facebook/vjepa2-vitg-fpc64-384)", true,
       vjepa2_factory("vjepa2-vitg-fpc64-384")},
      {"wan2.1-t2v-1.3b", "wan2.1",
       "WAN2.1 text-to-video 1.3B DiT: a block's hidden states at a denoising timestep", true,
       wan::wan_factory("wan2.1-t2v-1.3b"), wan::option_keys()},
      {"wan2.1-t2v-14b", "wan2.1",
       "WAN2.1 text-to-video 14B DiT: a block's hidden states at a denoising timestep", true,
       wan::wan_factory("wan2.1-t2v-14b"), wan::option_keys()},
      {wan::kSizedByConfigName, "wan2.1",
       "WAN2.1 text-to-video DiT of the size its model directory's transformer/config.json states "
       "(other sizes, fine-tunes)",
       true, wan::wan_factory(wan::kSizedByConfigName), wan::option_keys()},
      {"vggt-1b", "vggt",
       "VGGT-1B aggregator (facebook/VGGT-1B): frame | global tokens of a block, 518 px, whole "
       "clip at once",
       true,
       [](const BackboneOptions& options) {
         return make_vggt_backbone("vggt-1b", vggt_1b_config(), options);
       }},
  };
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

std::unique_ptr<Backbone> create_backbone(const std::string& name, const BackboneOptions& options) {
  const auto& info = find_backbone(name);
  require(!info.needs_weights || !options.weights.empty() || options.random_init,
          "backbone '" + name + "' needs --weights (a checkpoint file or directory)");
  require_known_extra_options(name, options.extra, info.options);
  return info.create(options);
}

}  // namespace vidprobe::backbones
