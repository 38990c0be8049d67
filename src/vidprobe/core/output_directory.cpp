#include "vidprobe/core/output_directory.h"

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <iostream>
#include <vector>

namespace vidprobe {
namespace fs = std::filesystem;

namespace {

bool all_digits(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// Permission denied (EPERM) still means the process exists: only ESRCH proves it is gone.
bool process_is_gone(long pid) {
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

std::optional<long> temporary_owner_pid(std::string_view file_name) {
  constexpr std::string_view kMarker = ".tmp.";
  const auto marker = file_name.rfind(kMarker);
  if (marker == std::string_view::npos || marker == 0) return std::nullopt;
  const auto suffix = file_name.substr(marker + kMarker.size());  // "<pid>.<n>"
  const auto dot = suffix.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto pid_text = suffix.substr(0, dot), counter_text = suffix.substr(dot + 1);
  if (!all_digits(pid_text) || !all_digits(counter_text)) return std::nullopt;
  long pid = 0;
  const auto [end, error] =
      std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
  if (error != std::errc() || pid <= 0) return std::nullopt;
  return pid;
}

std::size_t remove_stale_temporaries(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) return 0;
  std::vector<fs::path> stale;  // collected first: removing while iterating is unspecified
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto pid = temporary_owner_pid(entry.path().filename().string());
    if (pid && process_is_gone(*pid)) stale.push_back(entry.path());
  }
  for (const auto& path : stale) fs::remove_all(path);
  return stale.size();
}

void prepare_output_directory(const fs::path& dir, const std::string& writer) {
  fs::create_directories(dir);
  if (const auto removed = remove_stale_temporaries(dir); removed > 0)
    std::cerr << writer << ": removed " << removed << " stale temporar"
              << (removed == 1 ? "y" : "ies") << " of processes that are gone from " << dir.string()
              << "\n";
}

}  // namespace vidprobe
