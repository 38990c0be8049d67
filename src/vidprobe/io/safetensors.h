#pragma once
// The one safetensors reader/writer of vidprobe (format: 8-byte little-endian header length N,
// N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {str: str}},
// then the raw little-endian tensor bytes). Reading memory-maps the file and validates every
// entry before handing out views, so a truncated or hand-edited file fails with a message that
// names the file and the key instead of producing garbage.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace vidprobe {

enum class SafeDType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool, kU16, kU32, kU64,
                       kF8E4M3, kF8E5M2 };

std::size_t dtype_size(SafeDType dtype);
std::string dtype_name(SafeDType dtype);        // "F32", "BF16", ...
SafeDType parse_dtype(const std::string& name);  // throws vidprobe::Error on unknown names

struct TensorView {
  SafeDType dtype;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> bytes;
  std::int64_t numel() const;
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  // Throws vidprobe::Error naming the file and the missing key.
  const TensorView& view(const std::string& name) const;
  const std::map<std::string, TensorView>& entries() const { return entries_; }

 private:
  struct Mapping;
  std::filesystem::path path_;
  std::shared_ptr<const Mapping> mapping_;  // keeps the views' memory alive
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorView> entries_;
};

class SafetensorsWriter {
 public:
  // bytes is copied; its size must equal numel * dtype_size.
  void add(const std::string& name, SafeDType dtype, std::vector<std::int64_t> shape,
           std::span<const std::byte> bytes);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  // Writes atomically (temporary name + rename). Tensors are laid out in name order, 8-byte
  // aligned as the reference implementation does.
  void write(const std::filesystem::path& path) const;

 private:
  struct Entry {
    SafeDType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> bytes;
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace vidprobe
