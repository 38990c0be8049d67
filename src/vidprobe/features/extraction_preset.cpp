#include "vidprobe/features/extraction_preset.h"

#include <functional>

#include "vidprobe/backbones/diffusion_time.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/error.h"

namespace vidprobe::features {
namespace {

// The authors' WAN noise level: diffusers' UniPC, flow shift 3, 1000 steps, index 749.
constexpr const char* kVidfm3dWanTime = "unipc:shift=3,steps=1000,index=749";
// The authors' CogVideoX noise level: CogVideoXDDIMScheduler over 1000 steps at index 749.
constexpr const char* kVidfm3dCogVideoXTime = "ddim:steps=1000,index=749";

// CogVideoX (features/cogvideox): a 97-frame window fed as 2 clips of 49 that share frame 0
// (0 + odd, 0 + even frames), 720 x 480 LANCZOS squash, block 20 at index 749, float16.
void apply_vidfm3d_cogvideox(ExtractOptions& o,
                             const std::function<bool(const std::string&)>& unset) {
  if (unset("frames")) o.frames = 97;
  if (unset("interleaved-clips")) o.interleaved_clips = 2;
  if (unset("compute-dtype")) o.compute_dtype = torch::kFloat16;
  if (unset("layer")) o.point.layer = 20;
  if (unset("timestep"))
    o.point.timestep = backbones::parse_diffusion_time(kVidfm3dCogVideoXTime).timestep;
  if (unset("noise-per-clip")) o.noise_per_clip = true;
  if (unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-cogvideox");
}

// Fast3R (features/f3r): every frame of the window through the model at once, dust3r's
// load_images(size=512) (LANCZOS to 512 x 288 for 16:9 frames), the default point (the
// decoder's last map, 24: the paper's),
// bf16 as the authors' autocast, fresh random image indices per clip.
void apply_vidfm3d_fast3r(ExtractOptions& o, const std::function<bool(const std::string&)>& unset,
                          const std::function<void(const std::string&, const std::string&)>& set) {
  if (unset("frames")) o.frames = 81;
  if (unset("compute-dtype")) o.compute_dtype = torch::kBFloat16;
  if (unset("noise-per-clip")) o.noise_per_clip = true;
  set("size", "288x512");
  if (unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-fast3r");
}

// Aether (features/aether): an 81-frame window fed as 2 clips of 41 sharing frame 0, the same
// 720 x 480 LANCZOS squash, block 20 at index 749, bfloat16 (their weights and autocast).
void apply_vidfm3d_aether(ExtractOptions& o, const std::function<bool(const std::string&)>& unset) {
  apply_vidfm3d_cogvideox(o, unset);
  if (unset("frames")) o.frames = 81;
  if (unset("compute-dtype")) o.compute_dtype = torch::kBFloat16;
}

// Open-Sora 2.0 (features/opensora): a 129-frame window of which the first 21 of the 33 latent
// maps are kept (frames 0..80, extract_features.py's feat[:21]), 848 x 480 BICUBIC squash,
// single_blocks[20] at t = 0.25 before the shift (the backbone's default point), everything in
// bf16 (their prepare_models builds the VAE and the text encoders in bf16 too), one noise draw for
// every clip (their extract_feature calls set_seed(42) per clip).
void apply_vidfm3d_opensora(
    ExtractOptions& o, const std::function<bool(const std::string&)>& unset,
    const std::function<void(const std::string&, const std::string&)>& set) {
  if (unset("frames")) o.frames = 129;
  if (unset("keep-first")) o.keep_first = 81;
  if (unset("compute-dtype")) o.compute_dtype = torch::kBFloat16;
  if (unset("noise-per-clip")) o.noise_per_clip = false;
  if (unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-opensora");
  set("size", "480x848");
  set("vae_dtype", "bf16");
}

void apply_vidfm3d(ExtractOptions& o, const std::set<std::string>& given) {
  const auto unset = [&](const std::string& name) { return given.count(name) == 0; };
  const auto set_option = [&](const std::string& key, const std::string& value) {
    if (unset("backbone-opt:" + key)) o.backbone_options[key] = value;
  };
  if (unset("resize")) o.resize = ResizeMode::kSquash;
  if (unset("gt-size")) {
    o.gt_size = 294;
    o.gt_width = 518;
  }
  const auto& family = backbones::find_backbone(o.backbone).family;
  if (family != "wan2.1" && family != "dinov2" && family != "cogvideox" && family != "aether" &&
      family != "vjepa1" && family != "fast3r" && family != "opensora")
    return;  // no paper protocol in vidprobe yet
  if (unset("sampling"))
    o.sampling = ClipSamplingMode::kStrided;  // consecutive frames from the first
  if (unset("probe-frames")) o.probe_frames = 0;
  if (family == "cogvideox") return apply_vidfm3d_cogvideox(o, unset);
  if (family == "fast3r") return apply_vidfm3d_fast3r(o, unset, set_option);
  if (family == "aether") return apply_vidfm3d_aether(o, unset);
  if (family == "opensora") return apply_vidfm3d_opensora(o, unset, set_option);
  if (unset("frames")) o.frames = family == "vjepa1" ? 76 : 81;
  if (unset("compute-dtype")) o.compute_dtype = torch::kFloat32;
  if (family == "wan2.1") {
    if (unset("layer")) o.point.layer = 20;
    if (unset("timestep")) {
      const auto time = backbones::parse_diffusion_time(kVidfm3dWanTime);
      o.point.timestep = time.timestep;
      o.point.sigma = time.sigma;
    }
    if (unset("noise-per-clip")) o.noise_per_clip = true;
    set_option("text_length", "226");
    if (unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-wan");
  } else if (family == "vjepa1") {
    set_option("size", "480x832");
    set_option("spaced_clips", "5");
    if (unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-vjepa");
  } else {
    set_option("size", "420x728");
    if (unset("input-processor")) o.input_processor = image_processor_spec("vidfm3d-dinov2");
    set_option("final_norm", "1");
  }
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
