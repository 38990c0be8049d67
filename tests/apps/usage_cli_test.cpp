// Numeric flags are checked once, at the command line, before any work starts: a value outside
// its range is a usage error (exit status 2) naming the flag, never silently replaced by a default
// (`train --steps 0` used to run the config's 10,000 steps).
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <unistd.h>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"

namespace vidprobe {
namespace {
namespace fs = std::filesystem;

TEST(UsageCli, OutOfRangeNumbersAreUsageErrorsNamingTheFlag) {
  const auto dir = fs::temp_directory_path() / ("vidprobe_usage_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto log = dir / "log.txt";
  const std::string train = "train --features /nonexistent --out '" + (dir / "run").string() + "'";
  const std::string extract =
      "extract --backbone pixels --data /nonexistent --out '" + (dir / "feats").string() + "'";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {train + " --steps 0", "--steps"},
      {train + " --steps -5", "--steps"},
      {train + " --epochs 0", "--epochs"},
      {train + " --batch 0", "--batch"},
      {train + " --lr -0.001", "--lr"},
      {train + " --holdout 1.5", "--holdout"},
      {train + " --model vggt-from-features --vggt-depth 0", "--vggt-depth"},
      {"sweep --backbone pixels --data /nonexistent --layers 0 --out x --steps 0", "--steps"},
      {"eval --run /nonexistent --features /nonexistent --batch 0", "--batch"},
      {"render --family objects --clips 0 --out '" + (dir / "data").string() + "'", "--clips"},
      {extract + " --frames 0", "--frames"},
      {extract + " --probe-frames -1", "--probe-frames"},
      {extract + " --train-ratio 2", "--train-ratio"},
  };
  for (const auto& [arguments, flag] : cases) {
    EXPECT_EQ(test_support::run_vidprobe(arguments, log), 2) << arguments << "\n" << read_file(log);
    EXPECT_NE(read_file(log).find(flag), std::string::npos) << arguments << "\n" << read_file(log);
  }
  EXPECT_FALSE(fs::exists(dir / "run"));
  EXPECT_FALSE(fs::exists(dir / "data"));
  EXPECT_EQ(test_support::run_vidprobe("--help", log), 0);
  fs::remove_all(dir);
}

// Names (devices, dtypes, modes) are parsed into typed values at the command line too: an unknown
// one is an error (exit status 1) naming the flag and the value, before anything is written.
TEST(UsageCli, UnknownNamesFailAtTheCommandLineNamingFlagAndValue) {
  const auto dir = fs::temp_directory_path() / ("vidprobe_names_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto log = dir / "log.txt";
  const std::string extract =
      "extract --backbone pixels --data /nonexistent --out '" + (dir / "feats").string() + "'";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {extract + " --compute-dtype int8", "--compute-dtype must be fp32, bf16 or fp16; got 'int8'"},
      {extract + " --dtype bf16", "--dtype must be fp16 or fp32; got 'bf16'"},
      {extract + " --temporal sideways", "'sideways'"},
      {extract + " --resize stretch", "'stretch'"},
      {extract + " --sampling shuffle", "'shuffle'"},
      {extract + " --split dev", "'dev'"},
      {extract + " --device tpu", "bad device 'tpu'"},
      {"train --features /nonexistent --out '" + (dir / "run").string() + "' --device gpu",
       "bad device 'gpu'"},
      {"bench backbone --backbone pixels --dtype int8", "--dtype must be fp32, bf16 or fp16"},
      // An empty value used to read as "not given" (vae_dtype= ran the float32 default).
      {extract + " --backbone-opt vae_dtype=", "--backbone-opt vae_dtype= has no value"},
      {extract + " --backbone-opt size=32x48 --backbone-opt size=64x96",
       "--backbone-opt size is given twice"},
      {"check --backbone wan2.1-t2v-1.3b --weights /nonexistent --data /nonexistent --out '" +
           (dir / "feats").string() + "' --backbone-opt prompt=",
       "--backbone-opt prompt= has no value"},
      {"annotate --data /nonexistent --random-init --out '" + (dir / "ann").string() +
           "' --compute-dtype fp16",
       "--compute-dtype must be fp32 or bf16, got 'fp16'"},
      {"annotate --data /nonexistent --random-init --out '" + (dir / "ann").string() +
           "' --co3d-jpeg false",
       "--co3d-jpeg is a step of --co3d-crop vidfm3d"},
  };
  for (const auto& [arguments, message] : cases) {
    EXPECT_EQ(test_support::run_vidprobe(arguments, log), 1) << arguments << "\n" << read_file(log);
    EXPECT_NE(read_file(log).find(message), std::string::npos) << arguments << "\n"
                                                               << read_file(log);
  }
  EXPECT_FALSE(fs::exists(dir / "feats"));
  EXPECT_FALSE(fs::exists(dir / "run"));
  EXPECT_FALSE(fs::exists(dir / "ann"));
  fs::remove_all(dir);
}

// Found by tools/hostile_campaign.py: NaN passed every range check (CLI11 compares, and every
// comparison with NaN is false), "-5" became 2^64 - 5 as an unsigned seed, and flags without a
// range (--threads, --visualize, --train-fraction, --fov-min, --conf-percentile...) took any value.
TEST(UsageCli, NaNNegativeSeedsAndUncheckedFlagsAreUsageErrorsNamingTheFlag) {
  const auto dir = test_support::fresh_temp_dir("vidprobe_usage_hostile");
  const auto log = dir / "log.txt";
  const std::string train = "train --features /nonexistent --out '" + (dir / "run").string() + "'";
  const std::string render =
      "render --clips 1 --frames 1 --size 8 --out '" + (dir / "data").string() + "'";
  const std::string extract =
      "extract --backbone pixels --data /nonexistent --out '" + (dir / "feats").string() + "'";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {train + " --lr nan", "--lr"},
      {train + " --holdout nan", "--holdout"},
      {train + " --seed -5", "--seed"},
      {train + " --train-fraction 0", "--train-fraction"},
      {train + " --threads -1", "--threads"},
      {render + " --seed -5", "--seed"},
      {render + " --fov-min 0", "--fov-min"},
      {render + " --texture-richness 1.5", "--texture-richness"},
      {render + " --threads -2", "--threads"},
      {extract + " --noise-seed -1", "--noise-seed"},
      {extract + " --train-ratio nan", "--train-ratio"},
      {extract + " --layer -5", "--layer"},
      {"eval --run /nonexistent --features /nonexistent --visualize -1", "--visualize"},
      {"annotate --data /nonexistent --random-init --out '" + (dir / "ann").string() +
           "' --conf-percentile 101",
       "--conf-percentile"},
      {"annotate --data /nonexistent --random-init --out '" + (dir / "ann").string() +
           "' --co3d-crop vidfm3d --co3d-jpeg maybe",
       "--co3d-jpeg"},
      {"bench probe --steps 0", "--steps"},
  };
  for (const auto& [arguments, flag] : cases) {
    EXPECT_EQ(test_support::run_vidprobe(arguments, log), 2) << arguments << "\n" << read_file(log);
    EXPECT_NE(read_file(log).find(flag), std::string::npos) << arguments << "\n" << read_file(log);
  }
  EXPECT_FALSE(fs::exists(dir / "data"));
  EXPECT_FALSE(fs::exists(dir / "run"));
  fs::remove_all(dir);
}

// Found by tools/hostile_campaign.py: an --out under a regular file (or being one) ended in
// std::filesystem's exception, reported as an internal error (exit status 3); --random-init with
// --weights was accepted.
TEST(UsageCli, PathsTheSystemRefusesAreErrorsNamingThePath) {
  const auto dir = test_support::fresh_temp_dir("vidprobe_usage_paths");
  const auto log = dir / "log.txt";
  write_file_atomically(dir / "file", "x");
  const auto under_file = (dir / "file" / "sub").string();
  for (const std::string& arguments :
       {"render --clips 1 --frames 1 --size 8 --out '" + under_file + "'",
        "render --clips 1 --frames 1 --size 8 --out '" + (dir / "file").string() + "'"}) {
    EXPECT_EQ(test_support::run_vidprobe(arguments, log), 1) << arguments << "\n" << read_file(log);
    EXPECT_NE(read_file(log).find("vidprobe: error:"), std::string::npos) << read_file(log);
    EXPECT_NE(read_file(log).find((dir / "file").string()), std::string::npos) << read_file(log);
  }
  EXPECT_EQ(test_support::run_vidprobe("annotate --data /nonexistent --random-init --weights "
                                       "/nonexistent.safetensors --out '" +
                                           (dir / "ann").string() + "'",
                                       log),
            2)
      << read_file(log);
  fs::remove_all(dir);
}

// libtorch reports a failed host allocation as a plain c10::Error: it ended as an "internal error"
// (exit status 3) with a C++ backtrace. Under a 3 GB address-space limit the paper's probe at
// batch 64 cannot allocate its inputs.
TEST(UsageCli, WorkBeyondTheMachinesMemoryIsAnErrorSayingSo) {
  // A CUDA build maps its GPU libraries into the same address space, so the limit would stop
  // the loader instead of the probe's allocations.
  if (torch::cuda::is_available()) GTEST_SKIP() << "a 3 GB address-space limit is for CPU builds";
  const auto dir = test_support::fresh_temp_dir("vidprobe_usage_memory");
  const auto log = dir / "log.txt";
  const std::string command = "ulimit -v 3000000; " + std::string(VIDPROBE_BINARY) +
                              " -q bench probe --device cpu --batch 64 --frames 4 --feature-dim "
                              "1536 --grid 30x52 --size 294x518 --steps 1 --warmup 0 > '" +
                              log.string() + "' 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(command.c_str())), 1) << read_file(log);
  const auto output = read_file(log);
  EXPECT_NE(output.find("vidprobe: error: the work does not fit this machine's memory"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("Smaller batches"), std::string::npos) << output;
  EXPECT_EQ(output.find("frame #"), std::string::npos) << output;  // no C++ backtrace
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe
