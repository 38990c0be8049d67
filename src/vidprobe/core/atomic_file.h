#pragma once
// Crash-safe output: everything vidprobe writes goes to a temporary name in the destination's
// directory and is renamed into place only once complete, so a killed run never leaves a file
// that a later reader would accept as finished.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace vidprobe {

// Calls write(tmp_path), fsyncs nothing (speed over power-loss safety), then renames tmp_path to
// path. If write throws, the temporary file is removed and the exception propagates.
void write_atomically(const std::filesystem::path& path,
                      const std::function<void(const std::filesystem::path& tmp_path)>& write);

// Convenience for whole-buffer writes.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Same for a directory: build in a temporary sibling, then rename over `dir`. An existing `dir` is
// removed just before the rename (directories cannot be renamed over atomically), so a crash in
// that instant leaves no `dir` rather than a half-written one.
void write_directory_atomically(
    const std::filesystem::path& dir,
    const std::function<void(const std::filesystem::path& tmp_dir)>& fill);

// A unique temporary sibling name for path (same directory, so rename is atomic).
std::filesystem::path temporary_sibling(const std::filesystem::path& path);

// The whole file; throws vidprobe::Error naming it (and the system's reason) when it cannot be
// opened or read, or is a directory.
std::string read_file(const std::filesystem::path& path);

// Reads the file into `out` (a decoder's own buffer, without read_file's copy) when it holds
// exactly out.size() bytes, and returns out.size(). Otherwise returns another size for the caller
// to report, and `out` is unspecified: the file's size, or more than out.size() for a file that
// grew while read, or 0 for a pipe (whose size is unknown; it is not read). Throws as read_file.
std::uint64_t read_file_into(const std::filesystem::path& path, std::span<std::byte> out);

// For the check after writing `path` through a stream: throws vidprobe::Error naming the file and
// the system's reason ("No space left on device", from errno, which the caller zeroes before
// writing) when `written` is false.
void require_written(bool written, const std::filesystem::path& path);

}  // namespace vidprobe
