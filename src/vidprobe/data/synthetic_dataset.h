#pragma once
// vidprobe's own rendered clips (data/synthetic_format.h) behind the Dataset interface: each
// clip directory is one sequence.
#include <filesystem>
#include <memory>

#include "vidprobe/data/dataset.h"

namespace vidprobe {

std::unique_ptr<Dataset> open_synthetic_dataset(const std::filesystem::path& root,
                                                const DatasetOptions& options);

}  // namespace vidprobe
