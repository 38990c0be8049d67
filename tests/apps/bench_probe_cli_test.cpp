// `vidprobe bench probe --reference`: the C++ probe and the PyTorch one are timed on the same input
// and build the same network (equal parameter counts), and the ratio line is printed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"

namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

// The JSON objects a command printed, one per line, in order.
std::vector<nlohmann::json> json_lines(const fs::path& log) {
  std::istringstream lines(vidprobe::read_file(log));
  std::vector<nlohmann::json> results;
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line.front() == '{') results.push_back(nlohmann::json::parse(line));
  return results;
}

TEST(BenchProbeCli, ReferenceBuildsTheSameNetworkAndPrintsTheRatio) {
  const auto log =
      fs::temp_directory_path() / ("vidprobe_bench_probe_" + std::to_string(::getpid()));
  ASSERT_EQ(vidprobe::test_support::run_vidprobe(
                "bench probe --preset vidprobe --batch 1 --frames 2 --feature-dim 8 --grid 4"
                " --size 16 --warmup 0 --steps 1 --threads 1 --reference --python '" +
                    std::string(VIDPROBE_PYTHON) + "' --reference-script '" + VIDPROBE_SOURCE_DIR +
                    "/bench/probe_reference.py'",
                log),
            0)
      << vidprobe::read_file(log);
  const auto results = json_lines(log);
  ASSERT_EQ(results.size(), 3u) << vidprobe::read_file(log);
  EXPECT_EQ(results[0]["benchmark"], "probe_train_step");
  EXPECT_EQ(results[1]["benchmark"], "probe_train_step_pytorch");
  EXPECT_EQ(results[0]["parameters"], results[1]["parameters"]);
  EXPECT_EQ(results[2]["benchmark"], "probe_train_step_ratio");
  EXPECT_FALSE(results[2].contains("warning"));
  EXPECT_GT(results[2]["cpp_over_pytorch"].get<double>(), 0.0);
  fs::remove(log);
}

TEST(BenchProbeCli, AMissingReferenceScriptIsNamed) {
  const auto log =
      fs::temp_directory_path() / ("vidprobe_bench_probe_missing_" + std::to_string(::getpid()));
  EXPECT_NE(vidprobe::test_support::run_vidprobe(
                "bench probe --batch 1 --frames 2 --feature-dim 8 --grid 4 --size 16 --warmup 0"
                " --steps 1 --reference --reference-script /nonexistent/ref.py",
                log),
            0);
  EXPECT_THAT(vidprobe::read_file(log), HasSubstr("/nonexistent/ref.py"));
  fs::remove(log);
}

// The authors' step is asked for the C++ step's gradient checkpointing (the preset's, or the
// flag's), so the two sides time the same step. A stand-in script reports the flags it got.
TEST(BenchProbeCli, TheReferenceCheckpointsAsTheCppStepDid) {
  const auto dir =
      fs::temp_directory_path() / ("vidprobe_bench_probe_ckpt_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto script = dir / "reference.py";
  vidprobe::write_file_atomically(
      script,
      "import json, sys\n"
      "i = sys.argv.index('--checkpointing')\n"
      "print(json.dumps({'benchmark': 'probe_train_step_vidfm3d_reference', 'steps_per_s': 1.0,"
      " 'checkpointing': sys.argv[i + 1]}))\n");
  // Each run builds the 384 M probe. "2": vidprobe checkpoints only its first 2 trunk blocks;
  // the authors' code, which checkpoints all blocks or none, all of them.
  for (const std::string setting : {"", "off", "2"}) {
    const auto log = dir / ("log" + setting);
    const std::string flag = setting.empty()  ? ""
                             : setting == "2" ? " --checkpoint-blocks 2"
                                              : " --gradient-checkpointing " + setting;
    ASSERT_EQ(vidprobe::test_support::run_vidprobe(
                  "bench probe --batch 1 --frames 2 --feature-dim 8 --grid 4 --size 16 --warmup 0"
                  " --steps 1 --threads 1 --reference --checkout " +
                      dir.string() + " --python '" + std::string(VIDPROBE_PYTHON) +
                      "' --reference-script '" + script.string() + "'" + flag,
                  log),
              0)
        << vidprobe::read_file(log);
    const auto results = json_lines(log);
    ASSERT_EQ(results.size(), 3u) << vidprobe::read_file(log);
    const bool on = setting != "off";  // the vidfm3d preset checkpoints, as the authors' config
    EXPECT_EQ(results[0]["gradient_checkpointing"], on) << setting;
    EXPECT_EQ(results[1]["checkpointing"], on ? "on" : "off") << setting;
    EXPECT_EQ(results[2]["gradient_checkpointing"], on) << setting;
    EXPECT_EQ(results[0]["checkpoint_blocks"], setting == "2" ? 2 : -1) << setting;
    EXPECT_EQ(results[2]["cpp_checkpoint_blocks"], setting == "2" ? 2 : -1) << setting;
  }
  const auto refused = dir / "refused";
  EXPECT_NE(vidprobe::test_support::run_vidprobe(
                "bench probe --preset vidprobe --reference --gradient-checkpointing on", refused),
            0);
  EXPECT_THAT(vidprobe::read_file(refused), HasSubstr("--gradient-checkpointing off"));
  EXPECT_NE(vidprobe::test_support::run_vidprobe("bench probe --checkpoint-blocks 5", refused), 0);
  EXPECT_THAT(vidprobe::read_file(refused),
              HasSubstr("--checkpoint-blocks 5 must be -1 (all) or in 0..4"));
  fs::remove_all(dir);
}

}  // namespace
