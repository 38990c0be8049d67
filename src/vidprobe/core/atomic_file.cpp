#include "vidprobe/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>

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

namespace {

// A descriptor closed by its destructor, which also runs when the constructor of the class
// holding it throws after opening.
struct OwnedDescriptor {
  int fd;
  explicit OwnedDescriptor(int descriptor) : fd(descriptor) {}
  OwnedDescriptor(const OwnedDescriptor&) = delete;
  OwnedDescriptor& operator=(const OwnedDescriptor&) = delete;
  ~OwnedDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// A file open for reading; refuses a directory (which opens on Linux and reads as nothing, so it
// would pass for an empty file).
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const fs::path& path)
      : path_(path), descriptor_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    const int open_error = errno;
    require(descriptor_.fd >= 0, [&] {
      return "cannot open '" + path.string() + "' for reading: " + std::strerror(open_error);
    });
    struct stat info {};
    const bool stat_ok = ::fstat(descriptor_.fd, &info) == 0;
    const int stat_error = errno;
    require(stat_ok,
            [&] { return "cannot stat '" + path.string() + "': " + std::strerror(stat_error); });
    require(!S_ISDIR(info.st_mode),
            [&] { return "'" + path.string() + "' is a directory, not a file"; });
    // Pipes and /proc files report 0 and are read to their end all the same.
    size_hint_ = S_ISREG(info.st_mode) ? static_cast<std::size_t>(info.st_size) : 0;
  }

  std::size_t size_hint() const { return size_hint_; }
  // Reads until `size` bytes are in `out` or the file ends; returns how many were read.
  std::size_t read_up_to(char* out, std::size_t size) const {
    std::size_t done = 0;
    while (done < size) {
      const ssize_t got = ::read(descriptor_.fd, out + done, size - done);
      if (got < 0 && errno == EINTR) continue;
      const int cause = errno;
      require(got >= 0,
              [&] { return "failed reading '" + path_.string() + "': " + std::strerror(cause); });
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

 private:
  fs::path path_;
  OwnedDescriptor descriptor_;
  std::size_t size_hint_ = 0;
};

}  // namespace

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
