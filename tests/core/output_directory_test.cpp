#include "vidprobe/core/output_directory.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace vidprobe {
namespace {
namespace fs = std::filesystem;

// The pid of a child that has exited and been reaped: no live process has it (until the kernel
// reuses it, which takes a full turn of the pid space).
long dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) std::_Exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

void touch(const fs::path& path) {
  std::ofstream(path) << "partial";
}

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::temp_directory_path() /
                   ("vidprobe_output_dir_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

TEST(StaleTemporaries, OwnerPidIsParsedFromTemporaryNamesOnly) {
  EXPECT_EQ(temporary_owner_pid("clip.safetensors.tmp.4242.7"), 4242);
  EXPECT_EQ(temporary_owner_pid("scene@0..80.tmp.17.0"), 17);
  EXPECT_FALSE(temporary_owner_pid("clip.safetensors").has_value());
  EXPECT_FALSE(temporary_owner_pid("clip.tmp.12").has_value());
  EXPECT_FALSE(temporary_owner_pid("clip.tmp.x1.2").has_value());
  EXPECT_FALSE(temporary_owner_pid("clip.tmp.1.2b").has_value());
  EXPECT_FALSE(temporary_owner_pid(".tmp.1.2").has_value());
  EXPECT_FALSE(temporary_owner_pid("clip.tmp.0.2").has_value());
}

TEST(StaleTemporaries, OnlyThoseOfDeadProcessesAreRemoved) {
  const auto dir = fresh_dir("remove");
  fs::create_directories(dir);
  const long dead = dead_pid();
  const std::string own = std::to_string(::getpid());
  touch(dir / ("a.safetensors.tmp." + std::to_string(dead) + ".0"));
  fs::create_directories(dir / ("clip.tmp." + std::to_string(dead) + ".3") / "rgb");
  touch(dir / ("clip.tmp." + std::to_string(dead) + ".3") / "rgb" / "000000.png");
  touch(dir / ("b.safetensors.tmp." + own + ".1"));  // this (live) process is still writing it
  touch(dir / "c.safetensors.tmp.1.0");              // pid 1 is alive (EPERM counts as alive)
  touch(dir / "manifest.json");
  fs::create_directories(dir / "finished_clip");

  EXPECT_EQ(remove_stale_temporaries(dir), 2u);
  EXPECT_FALSE(fs::exists(dir / ("a.safetensors.tmp." + std::to_string(dead) + ".0")));
  EXPECT_FALSE(fs::exists(dir / ("clip.tmp." + std::to_string(dead) + ".3")));
  EXPECT_TRUE(fs::exists(dir / ("b.safetensors.tmp." + own + ".1")));
  EXPECT_TRUE(fs::exists(dir / "c.safetensors.tmp.1.0"));
  EXPECT_TRUE(fs::exists(dir / "manifest.json"));
  EXPECT_TRUE(fs::exists(dir / "finished_clip"));
  EXPECT_EQ(remove_stale_temporaries(dir), 0u);
  EXPECT_EQ(remove_stale_temporaries(dir / "missing"), 0u);
  fs::remove_all(dir);
}

TEST(StaleTemporaries, PreparingAnOutputDirectoryCreatesItAndSaysHowManyWereRemoved) {
  const auto dir = fresh_dir("prepare");
  prepare_output_directory(dir, "extract");
  EXPECT_TRUE(fs::is_directory(dir));
  const long dead = dead_pid();
  touch(dir / ("x.tmp." + std::to_string(dead) + ".0"));
  touch(dir / ("y.tmp." + std::to_string(dead) + ".1"));
  ::testing::internal::CaptureStderr();
  prepare_output_directory(dir, "extract");
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find("extract: removed 2 stale temporaries"), std::string::npos) << said;
  EXPECT_NE(said.find(dir.string()), std::string::npos) << said;
  ::testing::internal::CaptureStderr();
  prepare_output_directory(dir, "extract");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");  // silent when there is nothing
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe
