// An LD_PRELOAD library for the fault-injection tests: writes to files whose path contains
// $VIDPROBE_EIO_PATHS_CONTAINING fail with EIO once $VIDPROBE_EIO_AFTER_BYTES (default 0) bytes
// have gone to such files, as a failing disk would answer. It wraps the libc entry points that
// libstdc++'s file streams and vidprobe's writers call (write, writev, pwrite); writes through
// FILE* (fwrite inside glibc) do not pass through them and are not injected. Without the variable
// every call goes straight through.
#include <dlfcn.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

const char* const kPattern = std::getenv("VIDPROBE_EIO_PATHS_CONTAINING");
const long long kBudget = [] {
  const char* after = std::getenv("VIDPROBE_EIO_AFTER_BYTES");
  return after ? std::atoll(after) : 0LL;
}();
std::atomic<long long> written_to_matching{0};

bool names_matching_file(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[4096];
  const ssize_t length = ::readlink(link, target, sizeof target - 1);
  if (length <= 0) return false;
  target[length] = '\0';
  return std::strstr(target, kPattern) != nullptr;
}

// True when this write must fail: it goes to a matching file and passes the byte budget.
bool inject(int fd, std::size_t bytes) {
  if (kPattern == nullptr || *kPattern == '\0' || !names_matching_file(fd)) return false;
  const long long before = written_to_matching.fetch_add(static_cast<long long>(bytes));
  if (before + static_cast<long long>(bytes) <= kBudget) return false;
  errno = EIO;
  return true;
}

template <typename Function>
Function next(const char* name) {
  return reinterpret_cast<Function>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* data, std::size_t bytes) {
  static const auto real = next<ssize_t (*)(int, const void*, std::size_t)>("write");
  return inject(fd, bytes) ? -1 : real(fd, data, bytes);
}

ssize_t writev(int fd, const struct iovec* parts, int count) {
  static const auto real = next<ssize_t (*)(int, const struct iovec*, int)>("writev");
  std::size_t bytes = 0;
  for (int i = 0; i < count; ++i) bytes += parts[i].iov_len;
  return inject(fd, bytes) ? -1 : real(fd, parts, count);
}

ssize_t pwrite(int fd, const void* data, std::size_t bytes, off_t offset) {
  static const auto real = next<ssize_t (*)(int, const void*, std::size_t, off_t)>("pwrite");
  return inject(fd, bytes) ? -1 : real(fd, data, bytes, offset);
}

ssize_t pwrite64(int fd, const void* data, std::size_t bytes, off64_t offset) {
  static const auto real = next<ssize_t (*)(int, const void*, std::size_t, off64_t)>("pwrite64");
  return inject(fd, bytes) ? -1 : real(fd, data, bytes, offset);
}

}  // extern "C"
