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
  // Copies the parsed flags into options; throws vidprobe::Error naming a malformed key=value.
  void apply(features::ExtractOptions& options) const;
};

// Adds --backbone, --weights, --random-init, --data, --data-kind, --train-ratio, --frames,
// --probe-frames,
// --sampling, --gt-size, --temporal, --dtype, --compute-dtype, --backbone-opt, --noise-seed,
// --seed.
std::shared_ptr<ExtractionFlags> add_extraction_options(CLI::App& cmd,
                                                        features::ExtractOptions& options);

}  // namespace vidprobe::cli
