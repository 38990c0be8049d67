#pragma once
// libtorch side of the safetensors reader/writer (vidprobe/io/safetensors.h).
#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>

#include "vidprobe/io/safetensors.h"

namespace vidprobe {

using TensorMap = std::map<std::string, torch::Tensor>;

torch::ScalarType to_scalar_type(SafeDType dtype);
SafeDType to_safe_dtype(torch::ScalarType type);

// A CPU tensor holding a copy of the view's bytes (safe to use after the file is closed).
torch::Tensor to_tensor(const TensorView& view);

TensorMap load_safetensors(const std::filesystem::path& path);
void save_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// A checkpoint as published on model hubs: a single .safetensors file, a directory holding one,
// or a directory with sharded files and a *.safetensors.index.json ({"weight_map": {name: file}}).
// Throws vidprobe::Error naming the index or shard at fault.
TensorMap load_checkpoint(const std::filesystem::path& path);

}  // namespace vidprobe
