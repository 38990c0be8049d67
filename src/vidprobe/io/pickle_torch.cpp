#include "vidprobe/io/pickle_torch.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import_read.h>

#include <fstream>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

std::string key_text(const c10::IValue& key, const std::filesystem::path& path) {
  if (key.isString()) return key.toStringRef();
  if (key.isInt()) return std::to_string(key.toInt());
  throw Error("torch checkpoint '" + path.string() + "' has a dict key of type " + key.tagKind() +
              "; only string and integer keys are read");
}

void flatten(const c10::IValue& value, const std::string& prefix, TensorMap& out,
             const std::filesystem::path& path) {
  if (value.isTensor()) {
    out[prefix] = value.toTensor();
    return;
  }
  if (!value.isGenericDict()) return;  // numbers, strings, None, lists: not weights
  for (const auto& item : value.toGenericDict()) {
    const auto key = key_text(item.key(), path);
    flatten(item.value(), prefix.empty() ? key : prefix + "." + key, out, path);
  }
}

}  // namespace

bool is_torch_zip_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

TensorMap load_torch_zip_tensors(const std::filesystem::path& path) {
  require(std::filesystem::is_regular_file(path),
          "torch checkpoint '" + path.string() + "' is not a file");
  require(is_torch_zip_file(path), [&] {
    return "'" + path.string() +
           "' is not a zip-format torch.save file (PyTorch >= 1.6); older pickles are not read";
  });
  c10::IValue value;
  try {
    caffe2::serialize::PyTorchStreamReader reader(path.string());
    value = torch::jit::readArchiveAndTensors("data", "", "", std::nullopt, std::nullopt,
                                              torch::Device(torch::kCPU), reader);
  } catch (const c10::Error& e) {
    throw Error("cannot read torch checkpoint '" + path.string() +
                "': " + e.what_without_backtrace());
  }
  TensorMap tensors;
  flatten(value, "", tensors, path);
  require(!tensors.empty(), "torch checkpoint '" + path.string() + "' holds no tensors");
  return tensors;
}

}  // namespace vidprobe
