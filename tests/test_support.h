#pragma once
// Helpers every test module shares: running the built `vidprobe` binary as a user would, and
// catching the message of a vidprobe::Error.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "vidprobe/core/error.h"

namespace vidprobe::test_support {

// `vidprobe -q <arguments>` (no progress bars) with stdout and stderr into `log`; returns the
// exit status. Arguments are passed through the shell, so quote paths.
inline int run_vidprobe(const std::string& arguments, const std::filesystem::path& log) {
  const std::string command =
      std::string(VIDPROBE_BINARY) + " -q " + arguments + " > '" + log.string() + "' 2>&1";
  return WEXITSTATUS(std::system(command.c_str()));
}

// This test process's own folder, <tmp>/vidprobe_tests_<pid>, removed when the process ends.
inline const std::filesystem::path& process_temp_root() {
  struct Folder {
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("vidprobe_tests_" + std::to_string(::getpid()));
    Folder() { std::filesystem::create_directories(dir); }
    ~Folder() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  };
  static const Folder folder;
  return folder.dir;
}

// An empty directory for one test under process_temp_root(), emptied first if an earlier test
// of this process used the name.
inline std::filesystem::path fresh_temp_dir(const std::string& name) {
  auto dir = process_temp_root() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Runs `body` and returns the vidprobe::Error message it throws ("" and a test failure if none).
template <typename Body>
std::string error_message(Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a vidprobe::Error";
  return "";
}

}  // namespace vidprobe::test_support
