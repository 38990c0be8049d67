// `vidprobe extract`: frozen backbone features for every clip of a dataset, into a cache.
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "extract_options.h"
#include "typed_options.h"
#include "vidprobe/backbones/diffusion_time.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/features/extractor.h"

namespace vidprobe::cli {

void register_extract(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "extract", "Extract frozen backbone features for every clip of a dataset into a cache");
  auto options = std::make_shared<features::ExtractOptions>();
  auto timestep = std::make_shared<std::string>();
  auto summary_path = std::make_shared<std::filesystem::path>();
  auto flags = add_extraction_options(*cmd, *options);
  cmd->add_option("--layer", options->point.layer,
                  "Block to read features from (0-based; -1 = the backbone's default)")
      ->capture_default_str()
      ->check(in_range(-1, 1 << 20));
  cmd->add_option("--timestep", *timestep,
                  "Diffusion backbones: the timestep 0..1000 (noise level t / 1000), sigma=S, or a "
                  "sampler's schedule: unipc:shift=3,steps=1000,index=749[,diffusers=0.36] (WAN), "
                  "ddim:steps=1000,index=749 (CogVideoX, timestep 250)");
  add_parsed_option(*cmd, "--split", options->split, parse_split, "all | train | test",
                    to_string(options->split));
  add_device_option(*cmd, options->device);
  cmd->add_option("--out", options->out_dir, "Cache directory (resumable)")->required();
  cmd->add_option("--summary", *summary_path,
                  "Also write the summary (clips, seconds, clips/s, backbone busy fraction) to "
                  "this JSON file")
      ->check(output_file());
  cmd->callback([options, timestep, flags, summary_path] {
    if (!timestep->empty()) {
      const auto time = backbones::parse_diffusion_time(*timestep);
      options->point.timestep = time.timestep;
      options->point.sigma = time.sigma;
    }
    flags->apply(*options);
    const auto summary = features::extract_features(*options);
    if (!options->group.is_main()) return;  // the summary is the job's (summed over ranks)
    std::cerr << "extract: " << features::describe(summary) << "\n";
    if (!summary_path->empty()) {
      auto json = features::summary_json(summary);
      json["backbone"] = options->backbone;
      json["device"] = options->device.str();
      write_file_atomically(*summary_path, json.dump() + "\n");
    }
  });
}

}  // namespace vidprobe::cli
