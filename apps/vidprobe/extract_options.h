#pragma once
// The extraction options `vidprobe extract` and `vidprobe sweep` share, declared once.
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "vidprobe/features/extractor.h"

namespace vidprobe::cli {

struct ExtractionFlags {
  std::vector<std::string> backbone_opts;  // raw `key=value` strings
  std::string gt_size;                     // "H" or "HxW"
  std::string preset = "none";
  const CLI::App* command = nullptr;  // to tell given options from defaults
  // Copies the parsed flags into options, then fills what was not given from the preset; throws
  // vidprobe::Error naming a malformed value.
  void apply(features::ExtractOptions& options) const;
};

// Adds --preset, --backbone, --weights, --random-init, --resize, --noise-per-clip, --data,
// --data-kind, --train-ratio, --frames,
// --probe-frames, --keep-first,
// --sampling, --gt-size, --temporal, --dtype, --compute-dtype, --backbone-opt, --noise-seed,
// --seed.
// with_preset = false leaves --preset to the caller (sweep's --preset names the probe and the
// extraction preset at once).
std::shared_ptr<ExtractionFlags> add_extraction_options(CLI::App& cmd,
                                                        features::ExtractOptions& options,
                                                        bool with_preset = true);

}  // namespace vidprobe::cli
