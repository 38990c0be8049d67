#include "extract_options.h"

#include <set>
#include <tuple>

#include "job.h"
#include "typed_options.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"
#include "vidprobe/features/extraction_preset.h"
#include "vidprobe/nn/device.h"

namespace vidprobe::cli {

namespace {

// "H" (the width follows the input's aspect: 0) or "HxW".
std::pair<int, int> parse_gt_size(const std::string& text) {
  if (text.find('x') != std::string::npos) return parse_height_width(text, "--gt-size");
  const int height = parse_int(text, "--gt-size");
  require(height > 0, "--gt-size must be positive, got '" + text + "'");
  return {height, 0};
}

}  // namespace

void ExtractionFlags::apply(features::ExtractOptions& options) const {
  std::set<std::string> given;
  for (const auto& [key, value] : parse_backbone_opts(backbone_opts)) {
    options.backbone_options[key] = value;
    given.insert("backbone-opt:" + key);
  }
  if (!gt_size.empty()) std::tie(options.gt_size, options.gt_width) = parse_gt_size(gt_size);
  if (command)
    for (const auto* option : command->get_options())
      if (option->count() > 0)
        for (const auto& name : option->get_lnames()) given.insert(name);
  features::apply_extraction_preset(preset, options, given);
  // The backbone's family reads its settings into its own struct now, before any work.
  backbones::check_backbone_options(options.backbone, options.backbone_options);
  options.group = join_job(options.device);
}

namespace {

// "family: key, key; family: key" over the registry, for --backbone-opt's help.
std::string backbone_option_keys_text() {
  std::string text, last_family;
  for (const auto& info : backbones::registered_backbones()) {
    if (info.options.keys.empty() || info.family == last_family) continue;
    last_family = info.family;
    text += (text.empty() ? "" : "; ") + info.family + ":";
    for (const auto& key : info.options.keys) text += " " + key;
  }
  return text;
}

}  // namespace

std::shared_ptr<ExtractionFlags> add_extraction_options(CLI::App& cmd, features::ExtractOptions& x,
                                                        bool with_preset) {
  auto flags = std::make_shared<ExtractionFlags>();
  flags->command = &cmd;
  if (with_preset)
    cmd.add_option("--preset", flags->preset,
                   "Extraction settings to start from: none | vidfm3d (the authors' extraction per "
                   "family, for every option not given: docs/protocol.md)")
        ->check(CLI::IsMember(features::extraction_preset_names()))
        ->capture_default_str();
  std::string names;
  for (const auto& info : backbones::registered_backbones())
    names += (names.empty() ? "" : ", ") + info.name;
  cmd.add_option("--backbone", x.backbone, "Backbone name (" + names + ")")
      ->capture_default_str()
      ->check(registered_backbone());
  auto* weights = cmd.add_option("--weights", x.weights,
                                 "Checkpoint file or directory (safetensors as published)");
  cmd.add_flag("--random-init", x.random_init,
               "No checkpoint: the real architecture with seeded random weights (speed and smoke "
               "tests only, never for results; recorded in the cache's identity)")
      ->excludes(weights);
  cmd.add_option("--backbone-opt", flags->backbone_opts,
                 "Family-specific setting key=value, repeatable (" + backbone_option_keys_text() +
                     "; see docs/backbones.md)");
  add_parsed_option(
      cmd, "--compute-dtype", x.compute_dtype,
      [](const std::string& text) -> std::optional<torch::Dtype> {
        if (text == "auto") return std::nullopt;
        return nn::parse_dtype(text, "--compute-dtype");
      },
      "Backbone weights: auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16", "auto");
  cmd.add_option("--noise-seed", x.point.noise_seed, "Diffusion backbones: seed of the noise draw")
      ->capture_default_str()
      ->check(non_negative());
  cmd.add_option("--data", x.dataset_root, "Dataset root")->required();
  cmd.add_option("--data-kind", x.dataset_kind, "synthetic | co3d | dl3dv")
      ->capture_default_str()
      ->check(dataset_kind());
  cmd.add_option("--train-ratio", x.train_ratio, "Fraction of sequences in the train split")
      ->capture_default_str()
      ->check(in_range(0.0, 1.0));
  cmd.add_option("--frames", x.frames, "Frames per clip fed to the backbone (the paper: 4)")
      ->capture_default_str()
      ->check(positive());
  cmd.add_option("--probe-frames", x.probe_frames,
                 "Frames kept for the probe, evenly spaced, after the backbone saw all --frames "
                 "(e.g. WAN: --frames 17 --probe-frames 4); 0 = all")
      ->capture_default_str()
      ->check(non_negative());
  cmd.add_option("--keep-first", x.keep_first,
                 "Keep only the first N of the --frames frames (features and GT); the backbone "
                 "still sees all of them as context (the authors' Open-Sora: --frames 129 "
                 "--keep-first 81, the 21 latents of frames 0..80); 0 = all")
      ->capture_default_str()
      ->check(non_negative());
  cmd.add_option("--interleaved-clips", x.interleaved_clips,
                 "Feed the clip of 1 + n k frames as n clips of 1 + k frames sharing frame 0 "
                 "(clip c: 0, c + 1, c + 1 + n, ...), all clips' maps stored: the authors' "
                 "CogVideoX protocol is 97 frames as 2 (docs/cogvideox.md); 1 = as sampled")
      ->capture_default_str()
      ->check(positive());
  add_parsed_option(cmd, "--sampling", x.sampling, parse_clip_sampling_mode,
                    "uniform | random | strided", to_string(x.sampling));
  cmd.add_option("--gt-size", flags->gt_size,
                 "Ground truth H (the width follows the backbone input's aspect ratio) or HxW; "
                 "default: the backbone input size");
  add_parsed_option(cmd, "--resize", x.resize, features::parse_resize_mode,
                    "crop (cover, then centre crop) | squash (the whole frame, aspect not kept, "
                    "as the paper's extraction): backbone input and GT alike",
                    to_string(x.resize));
  cmd.add_flag("--noise-per-clip", x.noise_per_clip,
               "Diffusion backbones: noise seeded by --noise-seed and the clip's id (sharded runs "
               "agree), instead of one draw for every clip");
  std::string processors;
  for (const auto& name : image_processor_names()) processors += " | " + name;
  add_parsed_option(
      cmd, "--input-processor", x.input_processor,
      [](const std::string& name) -> std::optional<ImageProcessorSpec> {
        if (name == "none") return std::nullopt;
        return image_processor_spec(name);
      },
      "How the backbone's input pixels are made, PIL-exact as the reference code: none (our "
      "antialiased bilinear)" +
          processors + " (docs/datasets.md)",
      "none");
  add_parsed_option(cmd, "--temporal", x.temporal, features::parse_temporal_mode,
                    "video (whole clip at once) | per-frame (no temporal context) | shuffled "
                    "(frames in random order)",
                    to_string(x.temporal));
  add_parsed_option(cmd, "--dtype", x.cache_dtype, features::parse_cache_dtype,
                    "Cache dtype: fp16 | fp32", nn::dtype_name(x.cache_dtype));
  cmd.add_option("--seed", x.seed, "Seed for clip sampling, shuffling and random backbones")
      ->capture_default_str()
      ->check(non_negative());
  cmd.add_option(
         "--loader-threads", x.loader_threads,
         "Clips read, decoded and resized ahead of the backbone, each on its own thread "
         "(memory: one clip's frames each); 0: all of this process's cores but one, at most 15")
      ->capture_default_str()
      ->check(in_range(0, 64));
  cmd.add_flag_function(
      "--pageable-input", [&x](std::int64_t count) { x.pinned_input = count <= 0; },
      "On a GPU, load the backbone's pixels into pageable memory and upload them blocking "
      "(default: pinned memory, uploaded without blocking)");
  return flags;
}

}  // namespace vidprobe::cli
