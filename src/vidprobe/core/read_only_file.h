#pragma once
// The one way vidprobe opens a file for reading: read_file, read_file_into and the safetensors
// mapping all start here, so every reader refuses the same inputs with the same words.
#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace vidprobe {

// What a reader accepts: any file that reads (a pipe, /dev/stdin, a /proc file), or only a
// regular file, whose bytes can be mapped.
enum class FileKind { kAny, kRegular };

// A file open for reading (close-on-exec), closed by the destructor. Refuses a directory, which
// opens on Linux and reads as nothing, so it would pass for an empty file; with kRegular, refuses
// anything but a regular file without waiting for it (a named pipe opened for reading would
// otherwise block until something opened it for writing). Errors throw vidprobe::Error naming the
// path and the system's reason.
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::filesystem::path& path, FileKind kind = FileKind::kAny);

  int descriptor() const { return descriptor_.fd; }
  // The size fstat reports for a regular file; 0 for a pipe or a /proc file, whose size is not
  // known before they are read to their end.
  std::uint64_t size_hint() const { return size_hint_; }
  // Reads until `size` bytes are in `out` or the file ends; returns how many were read.
  std::size_t read_up_to(char* out, std::size_t size) const;

 private:
  // A member of its own, so that a constructor that throws after the open still closes it.
  struct Descriptor {
    int fd = -1;
    explicit Descriptor(int descriptor) : fd(descriptor) {}
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    ~Descriptor();
  };

  std::filesystem::path path_;
  Descriptor descriptor_;
  std::uint64_t size_hint_ = 0;
};

}  // namespace vidprobe
