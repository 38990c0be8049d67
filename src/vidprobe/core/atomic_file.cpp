#include "vidprobe/core/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "vidprobe/core/error.h"

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

std::string read_file(const fs::path& path) {
  // A directory opens as a stream on Linux and reads as nothing: refused, not taken as empty.
  require(!fs::is_directory(path), "'" + path.string() + "' is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "cannot open '" + path.string() + "' for reading");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  require(!in.bad(), "failed reading '" + path.string() + "'");
  return buffer.str();
}

}  // namespace vidprobe
