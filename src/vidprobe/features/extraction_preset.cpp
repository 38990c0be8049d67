#include "vidprobe/features/extraction_preset.h"

#include <functional>
#include <map>

#include "vidprobe/backbones/diffusion_time.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/error.h"

namespace vidprobe::features {
namespace {

// The authors' WAN noise level: diffusers' UniPC, flow shift 3, 1000 steps, index 749.
constexpr const char* kVidfm3dWanTime = "unipc:shift=3,steps=1000,index=749";
// The authors' CogVideoX noise level: CogVideoXDDIMScheduler over 1000 steps at index 749.
constexpr const char* kVidfm3dCogVideoXTime = "ddim:steps=1000,index=749";

// What a family's vidfm3d preset reads and writes: the options, whether the user left an option
// unset (a preset never overrides a flag), and a backbone option setter that obeys the same rule.
struct PresetTarget {
  ExtractOptions& options;
  std::function<bool(const std::string&)> unset;
  std::function<void(const std::string&, const std::string&)> set_backbone_option;
};

// CogVideoX (features/cogvideox): a 97-frame window fed as 2 clips of 49 that share frame 0
// (0 + odd, 0 + even frames), 720 x 480 LANCZOS squash, block 20 at index 749, float16, the VAE
// too (their CogVideoXFeaturizer loads vae/ with torch_dtype=torch.float16).
void apply_vidfm3d_cogvideox(const PresetTarget& t) {
  auto& o = t.options;
  if (t.unset("frames")) o.frames = 97;
  if (t.unset("interleaved-clips")) o.interleaved_clips = 2;
  if (t.unset("compute-dtype")) o.compute_dtype = torch::kFloat16;
  if (t.unset("layer")) o.point.layer = 20;
  if (t.unset("timestep"))
    o.point.timestep = backbones::parse_diffusion_time(kVidfm3dCogVideoXTime).timestep;
  if (t.unset("noise-per-clip")) o.noise_per_clip = true;
  if (t.unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-cogvideox");
  t.set_backbone_option("vae_dtype", "fp16");
}

// Fast3R (features/f3r): every frame of the window through the model at once, dust3r's
// load_images(size=512) (LANCZOS to 512 x 288 for 16:9 frames), the default point (the
// decoder's last map, 24: the paper's),
// bf16 as the authors' autocast, fresh random image indices per clip.
void apply_vidfm3d_fast3r(const PresetTarget& t) {
  auto& o = t.options;
  if (t.unset("frames")) o.frames = 81;
  if (t.unset("compute-dtype")) o.compute_dtype = torch::kBFloat16;
  if (t.unset("noise-per-clip")) o.noise_per_clip = true;
  t.set_backbone_option("size", "288x512");
  if (t.unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-fast3r");
}

// Aether (features/aether): an 81-frame window fed as 2 clips of 41 sharing frame 0, the same
// 720 x 480 LANCZOS squash, block 20 at index 749, bfloat16 (their weights and autocast), and the
// VAE in bfloat16 (AetherFeaturizer loads vae/ with torch_dtype=torch.bfloat16) and tiled as its
// pipeline.vae.enable_tiling() (every encode: the clip for the reconstruction and the features,
// the first frame; CogVideoX's featurizer does not tile).
void apply_vidfm3d_aether(const PresetTarget& t) {
  apply_vidfm3d_cogvideox(t);
  if (t.unset("frames")) t.options.frames = 81;
  if (t.unset("compute-dtype")) t.options.compute_dtype = torch::kBFloat16;
  t.set_backbone_option("vae_tiling", "on");
  t.set_backbone_option("vae_dtype", "bf16");
}

// Open-Sora 2.0 (features/opensora): a 129-frame window of which the first 21 of the 33 latent
// maps are kept (frames 0..80, extract_features.py's feat[:21]), 848 x 480 BICUBIC squash,
// single_blocks[20] at t = 0.25 before the shift (the backbone's default point), everything in
// bf16 (their prepare_models builds the VAE and the text encoders in bf16 too), one noise draw for
// every clip (their extract_feature calls set_seed(42) per clip).
void apply_vidfm3d_opensora(const PresetTarget& t) {
  auto& o = t.options;
  if (t.unset("frames")) o.frames = 129;
  if (t.unset("keep-first")) o.keep_first = 81;
  if (t.unset("compute-dtype")) o.compute_dtype = torch::kBFloat16;
  if (t.unset("noise-per-clip")) o.noise_per_clip = false;
  if (t.unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-opensora");
  t.set_backbone_option("size", "480x848");
  t.set_backbone_option("vae_dtype", "bf16");
}

// WAN2.1 (features/wan): 81 frames, LANCZOS 832 x 480 squash, block 20 at UniPC index 749, the
// empty prompt padded to 226 rows, float32, fresh noise per clip.
void apply_vidfm3d_wan(const PresetTarget& t) {
  auto& o = t.options;
  if (t.unset("frames")) o.frames = 81;
  if (t.unset("compute-dtype")) o.compute_dtype = torch::kFloat32;
  if (t.unset("layer")) o.point.layer = 20;
  if (t.unset("timestep")) {
    const auto time = backbones::parse_diffusion_time(kVidfm3dWanTime);
    o.point.timestep = time.timestep;
    o.point.sigma = time.sigma;
  }
  if (t.unset("noise-per-clip")) o.noise_per_clip = true;
  t.set_backbone_option("text_length", "226");
  if (t.unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-wan");
}

// V-JEPA (features/vjepa): the first 76 frames as 5 clips of 16 sharing frame 0, BILINEAR
// 832 x 480 squash, float32.
void apply_vidfm3d_vjepa1(const PresetTarget& t) {
  auto& o = t.options;
  if (t.unset("frames")) o.frames = 76;
  if (t.unset("compute-dtype")) o.compute_dtype = torch::kFloat32;
  t.set_backbone_option("size", "480x832");
  t.set_backbone_option("spaced_clips", "5");
  if (t.unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-vjepa");
}

// DINOv2 (features/dino): each of 81 frames on its own, BICUBIC 728 x 420 squash, after the
// final LayerNorm, float32.
void apply_vidfm3d_dinov2(const PresetTarget& t) {
  auto& o = t.options;
  if (t.unset("frames")) o.frames = 81;
  if (t.unset("compute-dtype")) o.compute_dtype = torch::kFloat32;
  t.set_backbone_option("size", "420x728");
  if (t.unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-dinov2");
  t.set_backbone_option("final_norm", "1");
}

// The families the paper extracts, by registry family name; other backbones get only the
// family-independent part of the preset.
const std::map<std::string, void (*)(const PresetTarget&)>& vidfm3d_family_presets() {
  static const std::map<std::string, void (*)(const PresetTarget&)> presets{
      {"wan2.1", apply_vidfm3d_wan},       {"dinov2", apply_vidfm3d_dinov2},
      {"vjepa1", apply_vidfm3d_vjepa1},    {"cogvideox", apply_vidfm3d_cogvideox},
      {"aether", apply_vidfm3d_aether},    {"fast3r", apply_vidfm3d_fast3r},
      {"opensora", apply_vidfm3d_opensora}};
  return presets;
}

void apply_vidfm3d(ExtractOptions& o, const std::set<std::string>& given) {
  const PresetTarget target{o, [&](const std::string& name) { return given.count(name) == 0; },
                            [&](const std::string& key, const std::string& value) {
                              if (given.count("backbone-opt:" + key) == 0)
                                o.backbone_options[key] = value;
                            }};
  if (target.unset("resize")) o.resize = ResizeMode::kSquash;
  if (target.unset("gt-size")) {
    o.gt_size = 294;
    o.gt_width = 518;
  }
  const auto& presets = vidfm3d_family_presets();
  const auto family = presets.find(backbones::find_backbone(o.backbone).family);
  if (family == presets.end()) return;  // no paper protocol in vidprobe yet
  if (target.unset("sampling"))
    o.sampling = ClipSamplingMode::kStrided;  // consecutive frames from the first
  if (target.unset("probe-frames")) o.probe_frames = 0;
  family->second(target);
}

}  // namespace

const std::vector<std::string>& extraction_preset_names() {
  static const std::vector<std::string> names{"none", "vidfm3d"};
  return names;
}

void apply_extraction_preset(const std::string& preset, ExtractOptions& options,
                             const std::set<std::string>& given) {
  if (preset == "none") return;
  require(preset == "vidfm3d",
          "unknown extraction preset '" + preset + "'; the presets are: none, vidfm3d");
  apply_vidfm3d(options, given);
}

}  // namespace vidprobe::features
