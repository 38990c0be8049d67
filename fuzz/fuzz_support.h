#pragma once
// Shared by the libFuzzer targets. The contract a reader must keep, for any bytes: return, or
// throw vidprobe::Error (a message naming the file). Any other exception escapes the target and
// libFuzzer reports it as a crash, as it does sanitizer reports, leaks, hangs and allocations
// past -malloc_limit_mb.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "vidprobe/core/error.h"

namespace vidprobe::fuzz {

// A directory of this process, made once and removed at exit: readers take paths, so every
// input is written to a file here first.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/vidprobe-fuzz.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    std::atexit([] { std::filesystem::remove_all(scratch()); });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits an input into two files' contents at the first line "----" (text formats).
inline std::pair<std::string_view, std::string_view> split_two(std::string_view text) {
  constexpr std::string_view kSeparator = "\n----\n";
  const auto at = text.find(kSeparator);
  if (at == std::string_view::npos) return {text, {}};
  return {text.substr(0, at), text.substr(at + kSeparator.size())};
}

// Runs a reader; vidprobe::Error is the expected refusal of bad input (printed when
// VIDPROBE_FUZZ_VERBOSE is set, to check that seeds are accepted).
template <typename F>
void expect_clean(F&& read) {
  static const bool verbose = std::getenv("VIDPROBE_FUZZ_VERBOSE") != nullptr;
  try {
    read();
  } catch (const vidprobe::Error& e) {
    if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
  }
}

// Reads every byte of a view so that ASan sees an out-of-bounds view.
inline std::uint8_t touch(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  std::uint8_t sum = 0;
  for (std::size_t i = 0; i < size; ++i) sum = static_cast<std::uint8_t>(sum + bytes[i]);
  return sum;
}

}  // namespace vidprobe::fuzz
