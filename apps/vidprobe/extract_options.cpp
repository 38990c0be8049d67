#include "extract_options.h"

#include <set>
#include <tuple>

#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"
#include "vidprobe/features/extraction_preset.h"

namespace vidprobe::cli {

namespace {

// "H" (the width follows the input's aspect: 0) or "HxW".
std::pair<int, int> parse_gt_size(const std::string& text) {
  if (text.find('x') != std::string::npos) return parse_height_width(text, "--gt-size");
  const int height = parse_int(text, "--gt-size");
  require(height >= 0, "--gt-size must be >= 0, got '" + text + "'");
  return {height, 0};
}

}  // namespace

void ExtractionFlags::apply(features::ExtractOptions& options) const {
  std::set<std::string> given;
  for (const auto& item : backbone_opts) {
    const auto equals = item.find('=');
    require(equals != std::string::npos && equals > 0,
            "--backbone-opt expects key=value, got '" + item + "'");
    options.backbone_options[item.substr(0, equals)] = item.substr(equals + 1);
    given.insert("backbone-opt:" + item.substr(0, equals));
  }
  if (!gt_size.empty()) std::tie(options.gt_size, options.gt_width) = parse_gt_size(gt_size);
  if (command)
    for (const auto* option : command->get_options())
      if (option->count() > 0)
        for (const auto& name : option->get_lnames()) given.insert(name);
  features::apply_extraction_preset(preset, options, given);
}

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
  cmd.add_option("--backbone", x.backbone, "Backbone name (" + names + ")")->capture_default_str();
  cmd.add_option("--weights", x.weights, "Checkpoint file or directory (safetensors as published)");
  cmd.add_flag("--random-init", x.random_init,
               "No checkpoint: the real architecture with seeded random weights (speed and smoke "
               "tests only, never for results; recorded in the cache's identity)");
  cmd.add_option(
      "--backbone-opt", flags->backbone_opts,
      "Family-specific setting key=value, repeatable (WAN: text_context, prompt, prompt_ids, "
      "noise_draws, size, cudnn_benchmark; see docs/backbones.md)");
  cmd.add_option("--compute-dtype", x.compute_dtype,
                 "Backbone weights: auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16")
      ->capture_default_str();
  cmd.add_option("--noise-seed", x.point.noise_seed, "Diffusion backbones: seed of the noise draw")
      ->capture_default_str();
  cmd.add_option("--data", x.dataset_root, "Dataset root")->required();
  cmd.add_option("--data-kind", x.dataset_kind, "synthetic | co3d | dl3dv")->capture_default_str();
  cmd.add_option("--train-ratio", x.train_ratio, "Fraction of sequences in the train split")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--frames", x.frames, "Frames per clip fed to the backbone (the paper: 4)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd.add_option("--probe-frames", x.probe_frames,
                 "Frames kept for the probe, evenly spaced, after the backbone saw all --frames "
                 "(e.g. WAN: --frames 17 --probe-frames 4); 0 = all")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--sampling", x.sampling, "uniform | random | strided")->capture_default_str();
  cmd.add_option("--gt-size", flags->gt_size,
                 "Ground truth H (the width follows the backbone input's aspect ratio) or HxW; "
                 "default: the backbone input size");
  cmd.add_option(
         "--resize", x.resize,
         "crop (cover, then centre crop) | squash (the whole frame, aspect not kept, as the "
         "paper's extraction): backbone input and GT alike")
      ->check(CLI::IsMember({"crop", "squash"}))
      ->capture_default_str();
  cmd.add_flag("--noise-per-clip", x.noise_per_clip,
               "Diffusion backbones: noise seeded by --noise-seed and the clip's id (sharded runs "
               "agree), instead of one draw for every clip");
  cmd.add_option("--temporal", x.temporal,
                 "video (whole clip at once) | per-frame (no temporal context) | shuffled (frames "
                 "in random order)")
      ->capture_default_str();
  cmd.add_option("--dtype", x.dtype, "Cache dtype: fp16 | fp32")->capture_default_str();
  cmd.add_option("--seed", x.seed, "Seed for clip sampling, shuffling and random backbones")
      ->capture_default_str();
  return flags;
}

}  // namespace vidprobe::cli
