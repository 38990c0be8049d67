// `vidprobe extract`: frozen backbone features for every clip of a dataset, into a cache.
#include <iostream>

#include "commands.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/features/extractor.h"

namespace vidprobe::cli {

void register_extract(CLI::App& app) {
  auto* cmd = app.add_subcommand("extract", "Extract frozen backbone features for every clip of a dataset into a cache");
  auto options = std::make_shared<features::ExtractOptions>();
  auto timestep = std::make_shared<int>(-1);
  std::string names;
  for (const auto& info : backbones::registered_backbones()) names += (names.empty() ? "" : ", ") + info.name;
  cmd->add_option("--backbone", options->backbone, "Backbone name (" + names + ")")->capture_default_str();
  cmd->add_option("--weights", options->weights, "Checkpoint file or directory (safetensors as published)");
  cmd->add_option("--layer", options->point.layer, "Block to read features from (0-based; -1 = the backbone's default)")
      ->capture_default_str();
  cmd->add_option("--timestep", *timestep, "Diffusion backbones: denoising timestep 0..999");
  cmd->add_option("--noise-seed", options->point.noise_seed, "Diffusion backbones: seed of the noise draw")
      ->capture_default_str();
  cmd->add_option("--data", options->dataset_root, "Dataset root")->required();
  cmd->add_option("--data-kind", options->dataset_kind, "synthetic | co3d | dl3dv")->capture_default_str();
  cmd->add_option("--split", options->split, "all | train | test")->capture_default_str();
  cmd->add_option("--train-ratio", options->train_ratio, "Fraction of sequences in the train split")
      ->capture_default_str();
  cmd->add_option("--frames", options->frames, "Frames per clip (the paper samples 4)")->capture_default_str();
  cmd->add_option("--sampling", options->sampling, "uniform | random | strided")->capture_default_str();
  cmd->add_option("--gt-size", options->gt_size, "Ground-truth resolution (square); 0 = the backbone input size")
      ->capture_default_str();
  cmd->add_option("--temporal", options->temporal,
                  "video (whole clip at once) | per-frame (no temporal context) | shuffled (frames in random order)")
      ->capture_default_str();
  cmd->add_option("--dtype", options->dtype, "Cache dtype: fp16 | fp32")->capture_default_str();
  cmd->add_option("--device", options->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--seed", options->seed, "Seed for clip sampling, shuffling and random backbones")->capture_default_str();
  cmd->add_option("--out", options->out_dir, "Cache directory (resumable)")->required();
  cmd->callback([options, timestep] {
    if (*timestep >= 0) options->point.timestep = *timestep;
    const auto summary = features::extract_features(*options);
    std::cerr << "extract: " << summary.clips_written << " clips written, " << summary.clips_skipped
              << " already done, " << summary.seconds << " s\n";
  });
}

}  // namespace vidprobe::cli
