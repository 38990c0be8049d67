#include "vidprobe/core/atomic_file.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "vidprobe/core/error.h"
#include "vidprobe/core/read_only_file.h"

namespace vidprobe {
namespace fs = std::filesystem;

fs::path temporary_sibling(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  return tmp;
}

void write_atomically(const fs::path& path, const std::function<void(const fs::path&)>& write) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const fs::path tmp = temporary_sibling(path);
  try {
    write(tmp);
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

void write_file_atomically(const fs::path& path, std::string_view bytes) {
  write_atomically(path, [&](const fs::path& tmp) {
    errno = 0;
    std::ofstream out(tmp, std::ios::binary);
    require_written(static_cast<bool>(out), path);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    require_written(static_cast<bool>(out), path);
  });
}

void write_directory_atomically(const fs::path& dir,
                                const std::function<void(const fs::path&)>& fill) {
  if (dir.has_parent_path()) fs::create_directories(dir.parent_path());
  const fs::path tmp = temporary_sibling(dir);
  try {
    fs::create_directories(tmp);
    fill(tmp);
    if (fs::exists(dir)) fs::remove_all(dir);
    fs::rename(tmp, dir);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
}

void require_written(bool written, const fs::path& path) {
  const int cause = errno;
  require(written, [&] {
    return "failed writing '" + path.string() +
           "': " + (cause != 0 ? std::strerror(cause) : "I/O error");
  });
}

// Sized once from fstat and filled by read(2): a stream into an ostringstream grew its buffer by
// doubling and copied the result out again, copies that a dataset loader made for every frame
// (docs/perf.md).
std::string read_file(const fs::path& path) {
  const ReadOnlyFile file(path);
  std::string bytes(file.size_hint() + 1, '\0');  // one more byte to see the end
  std::size_t size = file.read_up_to(bytes.data(), bytes.size());
  while (size == bytes.size()) {  // a file that grew, or a pipe
    bytes.resize(std::max<std::size_t>(2 * bytes.size(), 1 << 16));
    size += file.read_up_to(bytes.data() + size, bytes.size() - size);
  }
  bytes.resize(size);
  return bytes;
}

std::uint64_t read_file_into(const fs::path& path, std::span<std::byte> out) {
  const ReadOnlyFile file(path);
  if (file.size_hint() != out.size()) return file.size_hint();
  char extra = 0;
  const auto size = file.read_up_to(reinterpret_cast<char*>(out.data()), out.size());
  return size + file.read_up_to(&extra, 1);  // a file that changed size says so
}

}  // namespace vidprobe
