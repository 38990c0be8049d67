// `vidprobe extract`: frozen backbone features for every clip of a dataset, into a cache.
#include <iostream>

#include "commands.h"
#include "extract_options.h"
#include "vidprobe/features/extractor.h"

namespace vidprobe::cli {

void register_extract(CLI::App& app) {
  auto* cmd = app.add_subcommand("extract", "Extract frozen backbone features for every clip of a dataset into a cache");
  auto options = std::make_shared<features::ExtractOptions>();
  auto timestep = std::make_shared<int>(-1);
  auto flags = add_extraction_options(*cmd, *options);
  cmd->add_option("--layer", options->point.layer,
                  "Block to read features from (0-based; -1 = the backbone's default)")
      ->capture_default_str();
  cmd->add_option("--timestep", *timestep, "Diffusion backbones: denoising timestep 0..999");
  cmd->add_option("--split", options->split, "all | train | test")->capture_default_str();
  cmd->add_option("--device", options->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--out", options->out_dir, "Cache directory (resumable)")->required();
  cmd->callback([options, timestep, flags] {
    flags->apply(*options);
    if (*timestep >= 0) options->point.timestep = *timestep;
    const auto summary = features::extract_features(*options);
    std::cerr << "extract: " << summary.clips_written << " clips written, " << summary.clips_skipped
              << " already done, " << summary.seconds << " s\n";
  });
}

}  // namespace vidprobe::cli
