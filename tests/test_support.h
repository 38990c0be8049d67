#pragma once
// Helpers every test module shares: running the built `vidprobe` binary as a user would, and
// catching the message of a vidprobe::Error.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
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

// The probe of the tests that train on a small cache: the paper's preset reduced to width 64 and
// 16 DPT features, one epoch of batch 2. Written to dir/small_probe.json; returns that path.
inline std::filesystem::path write_small_probe_config(const std::filesystem::path& dir) {
  const auto path = dir / "small_probe.json";
  std::ofstream(path) << R"({
    "model": {"width": 64},
    "heads": {"dense": {"features": 16, "out_channels": [8, 16, 32, 32]}},
    "train": {"epochs": 1, "batch_size": 2}
  })";
  return path;
}

// `vidprobe train` of the small probe (write_small_probe_config, written next to `run`) on the
// cache `features` into `run`, `arguments` appended; returns the exit status.
inline int train_small_probe(const std::filesystem::path& features,
                             const std::filesystem::path& run, const std::filesystem::path& log,
                             const std::string& arguments = "") {
  const auto config = write_small_probe_config(run.parent_path());
  return run_vidprobe("train --features '" + features.string() + "' --config '" + config.string() +
                          "' --out '" + run.string() + "' " + arguments,
                      log);
}

// `vidprobe train` of a one-block probe of the `vidprobe` preset (width 32) for 2 steps on the
// cache `features` into `run` (its config written next to `run`): the smallest probe that runs
// every head, for tests that only need a cache to train at all. Returns the exit status.
inline int train_tiny_probe(const std::filesystem::path& features, const std::filesystem::path& run,
                            const std::filesystem::path& log) {
  const auto config = run.parent_path() / "tiny_probe.json";
  std::ofstream(config) << R"({"preset": "vidprobe",
      "model": {"width": 32, "num_heads": 2, "num_blocks": 1, "mlp_ratio": 2.0},
      "heads": {"dense": {"features": 8, "out_channels": [8, 8, 8, 8]},
                "camera": {"trunk_depth": 1}},
      "train": {"batch_size": 1, "checkpoint_every": 1000, "log_every": 1}})";
  return run_vidprobe("train --features '" + features.string() + "' --out '" + run.string() +
                          "' --config '" + config.string() + "' --steps 2 --seed 1",
                      log);
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
