#include "vidprobe/core/read_only_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "vidprobe/core/error.h"

namespace vidprobe {

ReadOnlyFile::Descriptor::~Descriptor() {
  if (fd >= 0) ::close(fd);
}

ReadOnlyFile::ReadOnlyFile(const std::filesystem::path& path, FileKind kind)
    // O_NONBLOCK only changes how a pipe or a device opens and reads; a kRegular file is either
    // a regular file, which it does not affect, or refused below before anything is read.
    : path_(path),
      descriptor_(::open(path.c_str(),
                         O_RDONLY | O_CLOEXEC | (kind == FileKind::kRegular ? O_NONBLOCK : 0))) {
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
  const bool regular = S_ISREG(info.st_mode);
  require(regular || kind == FileKind::kAny, [&] {
    return "'" + path.string() + "' is not a regular file (a pipe, a socket or a device)";
  });
  size_hint_ = regular ? static_cast<std::uint64_t>(info.st_size) : 0;
}

std::size_t ReadOnlyFile::read_up_to(char* out, std::size_t size) const {
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

}  // namespace vidprobe
