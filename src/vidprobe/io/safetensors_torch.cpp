#include "vidprobe/io/safetensors_torch.h"

#include <torch/torch.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/gzip.h"

namespace vidprobe {
namespace fs = std::filesystem;

torch::ScalarType to_scalar_type(SafeDType dtype) {
  switch (dtype) {
    case SafeDType::kF64:
      return torch::kFloat64;
    case SafeDType::kF32:
      return torch::kFloat32;
    case SafeDType::kF16:
      return torch::kFloat16;
    case SafeDType::kBF16:
      return torch::kBFloat16;
    case SafeDType::kI64:
      return torch::kInt64;
    case SafeDType::kI32:
      return torch::kInt32;
    case SafeDType::kI16:
      return torch::kInt16;
    case SafeDType::kI8:
      return torch::kInt8;
    case SafeDType::kU8:
      return torch::kUInt8;
    case SafeDType::kBool:
      return torch::kBool;
    case SafeDType::kU16:
      return torch::kUInt16;
    case SafeDType::kU32:
      return torch::kUInt32;
    case SafeDType::kU64:
      return torch::kUInt64;
    case SafeDType::kF8E4M3:
      return torch::kFloat8_e4m3fn;
    case SafeDType::kF8E5M2:
      return torch::kFloat8_e5m2;
  }
  throw Error("unsupported safetensors dtype " + dtype_name(dtype));
}

SafeDType to_safe_dtype(torch::ScalarType type) {
  for (auto dtype :
       {SafeDType::kF64, SafeDType::kF32, SafeDType::kF16, SafeDType::kBF16, SafeDType::kI64,
        SafeDType::kI32, SafeDType::kI16, SafeDType::kI8, SafeDType::kU8, SafeDType::kBool,
        SafeDType::kU16, SafeDType::kU32, SafeDType::kU64, SafeDType::kF8E4M3, SafeDType::kF8E5M2})
    if (to_scalar_type(dtype) == type) return dtype;
  throw Error(std::string("tensor dtype ") + c10::toString(type) +
              " cannot be stored in safetensors");
}

torch::Tensor to_tensor(const TensorView& view) {
  auto tensor = torch::empty(view.shape, torch::TensorOptions().dtype(to_scalar_type(view.dtype)));
  // memcpy rather than from_blob: foreign files do not promise aligned data offsets.
  if (!view.bytes.empty()) std::memcpy(tensor.data_ptr(), view.bytes.data(), view.bytes.size());
  return tensor;
}

TensorMap load_safetensors(const fs::path& path) {
  const auto file = SafetensorsFile::open(path);
  TensorMap tensors;
  for (const auto& [name, view] : file.entries()) tensors.emplace(name, to_tensor(view));
  return tensors;
}

void save_safetensors(const fs::path& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter writer;
  for (const auto& [name, tensor] : tensors) {
    const auto cpu = tensor.detach().to(torch::kCPU).contiguous();
    const auto* bytes = static_cast<const std::byte*>(cpu.data_ptr());
    writer.add(name, to_safe_dtype(cpu.scalar_type()), cpu.sizes().vec(),
               {bytes, static_cast<std::size_t>(cpu.nbytes())});
  }
  for (const auto& [key, value] : metadata) writer.set_metadata(key, value);
  writer.write(path);
}

TensorMap load_checkpoint(const fs::path& path) {
  require(fs::exists(path), "checkpoint '" + path.string() + "' does not exist");
  if (fs::is_regular_file(path)) return load_safetensors(path);

  std::vector<fs::path> indexes, shards;
  for (const auto& entry : fs::directory_iterator(path)) {
    const auto name = entry.path().filename().string();
    if (name.ends_with(".safetensors.index.json")) indexes.push_back(entry.path());
    if (name.ends_with(".safetensors")) shards.push_back(entry.path());
  }
  require(indexes.size() <= 1, "checkpoint directory '" + path.string() +
                                   "' holds several *.safetensors.index.json files; pass one file");
  if (indexes.empty()) {
    require(shards.size() == 1, "checkpoint directory '" + path.string() + "' holds " +
                                    std::to_string(shards.size()) +
                                    " .safetensors files and no index JSON; pass the file itself");
    return load_safetensors(shards.front());
  }
  nlohmann::json index;
  try {
    index = read_json_file(indexes.front());
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint index '" + indexes.front().string() + "' is not valid JSON (" +
                e.what() + ")");
  }
  require(index.contains("weight_map") && index["weight_map"].is_object(),
          "checkpoint index '" + indexes.front().string() + "' has no 'weight_map' object");
  std::set<std::string> shard_names;
  for (const auto& [name, shard] : index["weight_map"].items())
    shard_names.insert(shard.get<std::string>());
  TensorMap tensors;
  for (const auto& shard : shard_names) {
    auto part = load_safetensors(path / shard);
    for (auto& [name, tensor] : part) {
      require(index["weight_map"].contains(name) && index["weight_map"][name] == shard,
              "shard '" + (path / shard).string() + "' holds tensor '" + name +
                  "' that the index does not assign to it");
      tensors.emplace(name, std::move(tensor));
    }
  }
  for (const auto& [name, shard] : index["weight_map"].items())
    require(tensors.count(name) != 0, "checkpoint index '" + indexes.front().string() +
                                          "' lists tensor '" + name + "' in '" +
                                          shard.get<std::string>() + "', which does not hold it");
  return tensors;
}

}  // namespace vidprobe
