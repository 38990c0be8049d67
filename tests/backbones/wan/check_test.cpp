// `vidprobe check` on the small WAN fixture (diffusers layout, registered as "wan2.1-t2v"): the
// VAE round trip and the x0 estimate on a rendered clip and on a dataset clip, the files it
// writes, and that a wrong latent scaling in the VAE config shows in the x0 numbers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <sstream>

#include "backbones/wan/test_fixtures.h"
#include "test_support.h"
#include "vidprobe/backbones/diffusion_check.h"
#include "vidprobe/backbones/wan/backbone.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/io/safetensors.h"

namespace vidprobe::backbones::wan {
namespace {
namespace fs = std::filesystem;

// The last line of the log: the JSON line `check` prints on stdout (-q hides progress).
nlohmann::json last_json_line(const fs::path& log) {
  std::istringstream lines(read_file(log));
  std::string line, last;
  while (std::getline(lines, line))
    if (!line.empty()) last = line;
  return nlohmann::json::parse(last);
}

class WanCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vidprobe_wan_check_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    save_safetensors(dir_ / "context.safetensors", {{"context", testing::golden("context")}});
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string common(const fs::path& model) const {
    return "check --backbone wan2.1-t2v --weights '" + model.string() +
           "' --backbone-opt text_context='" + (dir_ / "context.safetensors").string() +
           "' --backbone-opt size=32x48 --frames 5 --compute-dtype fp32";
  }
  // Runs check and returns its JSON line; fails the test on a non-zero exit.
  nlohmann::json check(const std::string& arguments) const {
    const auto log = dir_ / "log.txt";
    const int status = test_support::run_vidprobe(arguments, log);
    EXPECT_EQ(status, 0) << read_file(log);
    return status == 0 ? last_json_line(log) : nlohmann::json::object();
  }

  fs::path dir_;
};

TEST_F(WanCheck, ReportsReconstructionAndX0OnARenderedClip) {
  testing::write_model_directory(dir_ / "model");
  const auto out = dir_ / "out";
  const auto report =
      check(common(dir_ / "model") + " --timestep 100 --out '" + out.string() + "'");
  for (const char* field : {"backbone", "clip", "timestep", "sigma", "vae_psnr_db",
                            "x0_relative_error", "x0_psnr_db", "latent_shape", "psnr_convention"})
    EXPECT_TRUE(report.contains(field)) << field << " in " << report.dump();
  EXPECT_EQ(report["timestep"], 100);
  EXPECT_DOUBLE_EQ(report["sigma"].get<double>(), 0.1);
  EXPECT_EQ(report["latent_shape"], nlohmann::json::array({1, 16, 2, 4, 6}));
  EXPECT_TRUE(std::isfinite(report["vae_psnr_db"].get<double>())) << report.dump();
  EXPECT_TRUE(std::isfinite(report["x0_psnr_db"].get<double>())) << report.dump();
  EXPECT_GT(report["x0_relative_error"].get<double>(), 0);
  // check.json holds the same numbers; the frames are there to look at.
  EXPECT_EQ(nlohmann::json::parse(read_file(out / "check.json")), report);
  for (const char* folder : {"input", "recon", "x0"})
    for (int t = 0; t < 5; ++t)
      EXPECT_TRUE(fs::exists(out / folder / ("frame_000" + std::to_string(t) + ".png")))
          << folder << " " << t;
}

// --sample-steps: the sampler's generation from seeded noise, decoded into sample/; the same seed
// gives the same frames, another seed other frames.
TEST_F(WanCheck, SamplesAndDecodesAClip) {
  testing::write_model_directory(dir_ / "model");
  const auto run = [&](const std::string& name, int seed) {
    const auto out = dir_ / name;
    const auto report = check(common(dir_ / "model") + " --sample-steps 3 --noise-seed " +
                              std::to_string(seed) + " --out '" + out.string() + "'");
    EXPECT_EQ(report["sample_steps"], 3);
    return read_file(out / "sample" / "frame_0004.png");
  };
  const auto first = run("a", 1), again = run("b", 1), other = run("c", 2);
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);
}

// A VAE config whose latents_std is 4x too large: the VAE round trip cannot see it (encode and
// decode use the same statistics), but the latents shrink against the unit-scale noise, so the
// x0 estimate's relative error grows (0.38 -> 1.38 with the fixture) and the PSNR of its decoding
// drops (only ~0.3 dB here: the random fixture decoder barely tells latents apart, 12 dB round
// trip; with trained weights the drop is the large one).
TEST_F(WanCheck, WrongLatentScalingShowsInTheX0Numbers) {
  testing::write_model_directory(dir_ / "model");
  testing::write_model_directory(dir_ / "wrong", [](nlohmann::json& vae) {
    for (auto& s : vae["latents_std"]) s = s.get<double>() * 4;
  });
  const auto right = check(common(dir_ / "model") + " --timestep 100");
  const auto wrong = check(common(dir_ / "wrong") + " --timestep 100");
  EXPECT_NEAR(wrong["vae_psnr_db"].get<double>(), right["vae_psnr_db"].get<double>(), 0.05);
  EXPECT_GT(wrong["x0_relative_error"].get<double>(), 2 * right["x0_relative_error"].get<double>());
  EXPECT_LT(wrong["x0_psnr_db"].get<double>(), right["x0_psnr_db"].get<double>())
      << "right " << right.dump() << "\nwrong " << wrong.dump();
}

TEST_F(WanCheck, ReadsAClipOfADataset) {
  testing::write_model_directory(dir_ / "model");
  const auto log = dir_ / "render.txt";
  ASSERT_EQ(test_support::run_vidprobe("render --family objects --clips 2 --frames 5 --size 48 "
                                       "--seed 3 --out '" +
                                           (dir_ / "data").string() + "'",
                                       log),
            0)
      << read_file(log);
  const auto report = check(common(dir_ / "model") + " --data '" + (dir_ / "data").string() +
                            "' --clip objects_00001 --resize squash");
  EXPECT_EQ(report["clip"], "objects_00001");
  EXPECT_EQ(report["timestep"], kDefaultTimestep);
  EXPECT_TRUE(std::isfinite(report["vae_psnr_db"].get<double>()));
}

TEST_F(WanCheck, RefusesWhatItCannotCheck) {
  testing::write_model_directory(dir_ / "model");
  const auto log = dir_ / "log.txt";
  auto four_frames = common(dir_ / "model");
  four_frames.replace(four_frames.find("--frames 5"), 10, "--frames 4");
  EXPECT_EQ(test_support::run_vidprobe(four_frames, log), 1);
  EXPECT_NE(read_file(log).find("4k + 1"), std::string::npos) << read_file(log);
  EXPECT_EQ(test_support::run_vidprobe("check --backbone pixels", log), 1);
  EXPECT_NE(read_file(log).find("not a latent diffusion backbone"), std::string::npos)
      << read_file(log);
  EXPECT_NE(lookup_check_model("wan2.1-t2v-1.3b"), nullptr);
  EXPECT_NE(lookup_check_model("wan2.1-t2v-14b"), nullptr);
  EXPECT_EQ(lookup_check_model("pixels"), nullptr);
}

}  // namespace
}  // namespace vidprobe::backbones::wan
