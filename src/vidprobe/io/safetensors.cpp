#include "vidprobe/io/safetensors.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <tuple>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/core/read_only_file.h"

namespace vidprobe {
namespace {

struct DTypeInfo {
  SafeDType dtype;
  const char* name;
  std::size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {SafeDType::kF64, "F64", 8},       {SafeDType::kF32, "F32", 4},
    {SafeDType::kF16, "F16", 2},       {SafeDType::kBF16, "BF16", 2},
    {SafeDType::kI64, "I64", 8},       {SafeDType::kI32, "I32", 4},
    {SafeDType::kI16, "I16", 2},       {SafeDType::kI8, "I8", 1},
    {SafeDType::kU8, "U8", 1},         {SafeDType::kBool, "BOOL", 1},
    {SafeDType::kU16, "U16", 2},       {SafeDType::kU32, "U32", 4},
    {SafeDType::kU64, "U64", 8},       {SafeDType::kF8E4M3, "F8_E4M3", 1},
    {SafeDType::kF8E5M2, "F8_E5M2", 1}};

const DTypeInfo& info(SafeDType dtype) {
  for (const auto& entry : kDTypes)
    if (entry.dtype == dtype) return entry;
  throw Error("unknown safetensors dtype enum value");
}

// The header is capped like the reference implementation (100 MB) so that a corrupt length field
// cannot make us allocate the whole address space.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

std::int64_t checked_numel(const std::vector<std::int64_t>& shape, const std::string& where) {
  std::int64_t numel = 1;
  for (auto dim : shape) {
    require(dim >= 0, where + ": negative dimension " + std::to_string(dim));
    require(dim == 0 || numel <= INT64_MAX / dim, where + ": shape overflows");
    numel *= dim;
  }
  return numel;
}

}  // namespace

std::size_t dtype_size(SafeDType dtype) {
  return info(dtype).size;
}
std::string dtype_name(SafeDType dtype) {
  return info(dtype).name;
}

SafeDType parse_dtype(const std::string& name) {
  for (const auto& entry : kDTypes)
    if (name == entry.name) return entry.dtype;
  throw Error("unknown safetensors dtype '" + name + "'");
}

std::int64_t TensorView::numel() const {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

struct SafetensorsFile::Mapping {
  void* address = MAP_FAILED;
  std::size_t size = 0;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (address != MAP_FAILED && size > 0) ::munmap(address, size);
  }
  const std::byte* data() const { return static_cast<const std::byte*>(address); }
};

namespace {

struct ByteRange {
  std::uint64_t begin, end;
  std::string name;
};

// The data section must be exactly covered by the tensors, one after another (the format's rule,
// which the reference loader enforces too): an overlap would alias two weights, a hole hides
// bytes that no tensor accounts for.
void check_data_layout(std::vector<ByteRange> ranges, std::uint64_t data_size,
                       const std::string& where) {
  std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  std::uint64_t covered = 0;
  std::string previous = "the start of the data section";
  for (const auto& range : ranges) {
    require(range.begin == covered, [&] {
      return where + ": tensor '" + range.name + "' starts at byte " + std::to_string(range.begin) +
             " of the data section but " + previous + " ends at " + std::to_string(covered) +
             (range.begin < covered ? " (overlapping tensors)" : " (a hole between tensors)");
    });
    covered = range.end;
    previous = "tensor '" + range.name + "'";
  }
  require(covered == data_size, [&] {
    return where + ": the tensors cover " + std::to_string(covered) + " of the " +
           std::to_string(data_size) + " bytes of the data section (trailing bytes)";
  });
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string where = "safetensors file '" + path.string() + "'";
  auto mapping = std::make_shared<Mapping>();
  {
    // Only a regular file can be mapped; the mapping outlives the descriptor.
    const ReadOnlyFile file(path, FileKind::kRegular);
    mapping->size = file.size_hint();
    require(mapping->size >= 8,
            where + " is too short (" + std::to_string(mapping->size) + " bytes) to hold a header");
    mapping->address = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, file.descriptor(), 0);
    const int map_error = errno;
    require(mapping->address != MAP_FAILED,
            [&] { return "cannot map " + where + ": " + std::strerror(map_error); });
  }

  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = (header_size << 8) | std::to_integer<std::uint64_t>(mapping->data()[i]);
  require(header_size <= kMaxHeaderBytes && header_size <= mapping->size - 8,
          where + ": header length " + std::to_string(header_size) + " exceeds the file size " +
              std::to_string(mapping->size));
  const auto* header_begin = reinterpret_cast<const char*>(mapping->data() + 8);
  const nlohmann::json header =
      parse_json(std::string_view(header_begin, header_size), where + ": header");
  require(header.is_object(), where + ": header is not a JSON object");

  SafetensorsFile file;
  file.path_ = path;
  file.mapping_ = mapping;
  const std::size_t data_begin = 8 + header_size;
  const std::size_t data_size = mapping->size - data_begin;
  std::vector<ByteRange> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      require(entry.is_object(), where + ": __metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        require(value.is_string(), where + ": __metadata__['" + key + "'] is not a string");
        file.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string key_where = where + " tensor '" + name + "'";
    require(entry.is_object() && entry.contains("dtype") && entry.contains("shape") &&
                entry.contains("data_offsets"),
            key_where + ": needs dtype, shape and data_offsets");
    TensorView view;
    try {
      const auto dtype = json_get<std::string>(entry, "dtype", key_where);
      try {
        view.dtype = parse_dtype(dtype);
      } catch (const Error& e) {
        throw Error(key_where + ": " + e.what());
      }
      // Through the one field reader: a float such as 24e48 would be undefined behaviour in
      // nlohmann's own conversion to an integer.
      view.shape = json_get<std::vector<std::int64_t>>(entry, "shape", key_where);
      const auto offsets = json_get<std::vector<std::uint64_t>>(entry, "data_offsets", key_where);
      require(offsets.size() == 2, key_where + ": data_offsets must have two entries");
      require(offsets[0] <= offsets[1] && offsets[1] <= data_size,
              key_where + ": data_offsets [" + std::to_string(offsets[0]) + ", " +
                  std::to_string(offsets[1]) + ") lie outside the " + std::to_string(data_size) +
                  "-byte data section (truncated file?)");
      const std::int64_t numel = checked_numel(view.shape, key_where);
      require(static_cast<std::uint64_t>(numel) <=
                  std::numeric_limits<std::uint64_t>::max() / dtype_size(view.dtype),
              key_where + ": shape x dtype size overflows 64 bits");
      const auto expected = static_cast<std::uint64_t>(numel) * dtype_size(view.dtype);
      require(offsets[1] - offsets[0] == expected,
              key_where + ": holds " + std::to_string(offsets[1] - offsets[0]) +
                  " bytes but dtype and shape need " + std::to_string(expected));
      view.bytes = {mapping->data() + data_begin + offsets[0], offsets[1] - offsets[0]};
      ranges.push_back({offsets[0], offsets[1], name});
    } catch (const nlohmann::json::exception& e) {
      throw Error(key_where + ": malformed entry (" + e.what() + ")");
    }
    file.entries_.emplace(name, std::move(view));
  }
  check_data_layout(std::move(ranges), data_size, where);
  return file;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, view] : entries_) out.push_back(name);
  return out;
}

const TensorView& SafetensorsFile::view(const std::string& name) const {
  const auto it = entries_.find(name);
  require(it != entries_.end(),
          "safetensors file '" + path_.string() + "' has no tensor '" + name + "'");
  return it->second;
}

void SafetensorsWriter::add(const std::string& name, SafeDType dtype,
                            std::vector<std::int64_t> shape, std::span<const std::byte> bytes) {
  require(name != "__metadata__" && !name.empty(),
          "invalid safetensors tensor name '" + name + "'");
  const std::int64_t numel = checked_numel(shape, "tensor '" + name + "'");
  require(bytes.size() == static_cast<std::size_t>(numel) * dtype_size(dtype),
          "tensor '" + name + "': " + std::to_string(bytes.size()) +
              " bytes do not match its shape and dtype");
  require(entries_.count(name) == 0, "tensor '" + name + "' added twice");
  entries_.emplace(name, Entry{dtype, std::move(shape), {bytes.begin(), bytes.end()}});
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::uint64_t offset = 0;
  for (const auto& [name, entry] : entries_) {
    header[name] = {{"dtype", dtype_name(entry.dtype)},
                    {"shape", entry.shape},
                    {"data_offsets", {offset, offset + entry.bytes.size()}}};
    offset += entry.bytes.size();
  }
  std::string header_text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned (as the reference writer does).
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  write_atomically(path, [&](const std::filesystem::path& tmp) {
    errno = 0;
    std::ofstream out(tmp, std::ios::binary);
    require_written(static_cast<bool>(out), path);
    std::uint64_t n = header_text.size();
    char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(length, 8);
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const auto& [name, entry] : entries_)
      out.write(reinterpret_cast<const char*>(entry.bytes.data()),
                static_cast<std::streamsize>(entry.bytes.size()));
    out.close();
    require_written(static_cast<bool>(out), path);
  });
}

}  // namespace vidprobe
