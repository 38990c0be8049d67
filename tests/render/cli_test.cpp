// `vidprobe render` end to end: output layout, resume, parameter mismatch.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/data/synthetic_format.h"

namespace vidprobe {
namespace {
namespace fs = std::filesystem;

// `vidprobe render <arguments>`.
int run(const std::string& arguments, const fs::path& log) {
  return test_support::run_vidprobe("render " + arguments, log);
}

TEST(RenderCli, WritesResumesAndRefusesMixedParameters) {
  // In this process's own folder: two test processes running at once must not share it.
  const fs::path dir = test_support::fresh_temp_dir("render_cli");
  const fs::path out = dir / "clips";
  const fs::path log = dir / "render.log";
  const std::string base =
      "--family scenes --frames 2 --size 24 --seed 9 --out '" + out.string() + "'";
  ASSERT_EQ(run(base + " --clips 2 --threads 2", log), 0) << read_file(log);
  EXPECT_EQ(list_synthetic_clips(out), (std::vector<std::string>{"scenes_00000", "scenes_00001"}));
  const Clip first = read_synthetic_clip(out / "scenes_00001");
  EXPECT_EQ(first.frames.size(), 2u);
  EXPECT_EQ(first.frames[0].rgb.width, 24);
  EXPECT_EQ(first.meta["parameters"]["seed"], 9);

  // Extending --clips renders only the new clip and leaves existing ones byte-identical.
  const std::string before = read_file(out / "scenes_00001" / "rgb" / "000001.png");
  const auto stamp = fs::last_write_time(out / "scenes_00001" / "clip.json");
  ASSERT_EQ(run(base + " --clips 3 --threads 1", log), 0) << read_file(log);
  EXPECT_THAT(read_file(log), ::testing::HasSubstr("2 of 3 clips already complete"));
  EXPECT_EQ(list_synthetic_clips(out).size(), 3u);
  EXPECT_EQ(fs::last_write_time(out / "scenes_00001" / "clip.json"), stamp);
  EXPECT_EQ(read_file(out / "scenes_00001" / "rgb" / "000001.png"), before);

  // A different clip rendered fresh (another directory) equals the resumed one bit for bit.
  const fs::path fresh = out / "fresh";
  ASSERT_EQ(
      run("--family scenes --frames 2 --size 24 --seed 9 --clips 2 --out '" + fresh.string() + "'",
          log),
      0);
  EXPECT_EQ(read_file(fresh / "scenes_00001" / "depth" / "000000.f32"),
            read_file(out / "scenes_00001" / "depth" / "000000.f32"));
  fs::remove_all(fresh);

  // Same directory, other parameters: refused with the clip.json named.
  EXPECT_EQ(run(base + " --clips 3 --motion 2", log), 1);
  EXPECT_THAT(read_file(log), ::testing::HasSubstr("scenes_00000/clip.json"));
  fs::remove_all(out);
  fs::remove(log);
}

}  // namespace
}  // namespace vidprobe
