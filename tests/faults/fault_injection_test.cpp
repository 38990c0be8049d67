// Fault injection through the command line (issue #19): every subcommand that writes is killed
// with SIGKILL at random points and rerun; the finished result must equal an uninterrupted run's,
// byte for byte (docs/reliability.md lists the few files exempt, and why). After every kill, a
// file under a final name must already be the finished run's file (nothing half-written), or be
// one the design rewrites in place atomically (manifest, logs, checkpoints). A full disk (a small
// tmpfs, when this process may mount one) must end in a clear error, a non-zero exit, no
// temporaries and no half-written file.
//
// The kill points come from VIDPROBE_FAULT_SEED (default 19), printed on failure.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "test_support.h"

namespace vidprobe {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Args = std::vector<std::string>;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

bool is_temporary(const fs::path& relative) {
  for (const auto& part : relative)
    if (part.string().find(".tmp.") != std::string::npos) return true;
  return false;
}

// Relative path -> bytes of every regular file under dir, with `dir` itself written as "<out>"
// (runs record their own output directory, e.g. in metrics.json, and the runs compared write to
// different directories).
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> files;
  if (!fs::exists(dir)) return files;
  const std::string self = dir.string();
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string bytes = read_bytes(entry.path());
    for (auto at = bytes.find(self); at != std::string::npos; at = bytes.find(self, at))
      bytes.replace(at, self.size(), "<out>");
    files[fs::relative(entry.path(), dir).generic_string()] = std::move(bytes);
  }
  return files;
}

struct Exit {
  int status = -1;  // exit status; -1 when killed
  double seconds = 0;
};

// Runs `vidprobe -q args...` (stdout and stderr into log, `env` added to the environment) and,
// when kill_after is given, sends SIGKILL to its pid at that time unless it has exited by then.
Exit run(const Args& args, const fs::path& log, std::optional<double> kill_after = std::nullopt,
         std::vector<std::string> env = {}) {
  std::vector<std::string> words{VIDPROBE_BINARY, "-q"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** variable = environ; *variable != nullptr; ++variable) envp.push_back(*variable);
  for (auto& variable : env) envp.push_back(variable.data());
  envp.push_back(nullptr);
  const std::string log_name = log.string();
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    const int fd = ::open(log_name.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (kill_after && elapsed() >= *kill_after) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, elapsed()};
}

std::uint32_t fault_seed() {
  const char* seed = std::getenv("VIDPROBE_FAULT_SEED");
  return seed ? static_cast<std::uint32_t>(std::stoul(seed)) : 19u;
}

// One writing subcommand under test: its arguments for an output location, the files that the
// design rewrites in place while it runs (atomically, so any state is a whole file) and the
// files whose bytes may differ between two complete runs (timings), both as path suffixes.
struct Command {
  std::string name;
  std::function<Args(const fs::path& out, bool rerun)> args;
  std::vector<std::string> rewritten;
  std::vector<std::string> volatile_files;
};

bool ends_with_any(const std::string& path, const std::vector<std::string>& suffixes) {
  for (const auto& suffix : suffixes)
    if (path.size() >= suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  return false;
}

class FaultInjection : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_support::fresh_temp_dir(
        std::string("faults_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::ofstream(dir_ / "probe.json") << R"({"preset": "vidprobe",
      "model": {"width": 32, "num_heads": 2, "num_blocks": 2, "mlp_ratio": 2.0},
      "heads": {"dense": {"features": 8, "out_channels": [8, 8, 8, 8]}, "camera": {"trunk_depth": 1}},
      "train": {"batch_size": 2, "checkpoint_every": 4, "log_every": 4}})";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void ok(const Args& args) {
    const auto log = dir_ / "setup.log";
    ASSERT_EQ(run(args, log).status, 0) << read_bytes(log);
  }
  void render() {
    ok({"render", "--family", "objects", "--clips", "5", "--frames", "4", "--size", "32", "--seed",
        "3", "--out", data().string()});
  }
  void extract(const std::string& split) { ok(extract_args(split, dir_ / "feats" / split)); }
  Args extract_args(const std::string& split, const fs::path& out) const {
    return {"extract",
            "--backbone",
            "random-vit",
            "--data",
            data().string(),
            "--split",
            split,
            "--train-ratio",
            "0.6",
            "--frames",
            "4",
            "--gt-size",
            "16",
            "--seed",
            "3",
            "--out",
            out.string()};
  }
  Args train_args(const fs::path& out, bool rerun) const {
    Args args{"train",
              "--features",
              (dir_ / "feats" / "train").string(),
              "--out",
              out.string(),
              "--config",
              (dir_ / "probe.json").string(),
              "--steps",
              "12",
              "--seed",
              "3"};
    if (rerun && fs::exists(out / "config.json")) args.push_back("--resume");
    return args;
  }
  fs::path data() const { return dir_ / "data"; }

  // The uninterrupted run, then `kills` runs killed at random times within its duration, each
  // followed by a check that nothing is half-written, then a rerun to the end.
  void expect_resumes_to_the_same_result(const Command& command, int kills = 2) {
    const auto reference = dir_ / (command.name + "-reference");
    const auto log = dir_ / (command.name + ".log");
    const Exit full = run(command.args(reference, false), log);
    ASSERT_EQ(full.status, 0) << read_bytes(log);
    const auto expected = tree(reference);

    const auto killed = dir_ / (command.name + "-killed");
    std::mt19937 random(fault_seed());
    std::ostringstream history;
    history << command.name << " (uninterrupted " << full.seconds << " s, VIDPROBE_FAULT_SEED "
            << fault_seed() << "):";
    for (int k = 0; k < kills; ++k) {
      const double at = std::uniform_real_distribution<double>(0.0, full.seconds)(random);
      const Exit cut = run(command.args(killed, k > 0), log, at);
      history << " kill at " << at << " s" << (cut.status == -1 ? "" : " (had exited)") << ";";
      expect_nothing_half_written(command, killed, expected, history.str());
    }
    ASSERT_EQ(run(command.args(killed, true), log).status, 0) << history.str() << read_bytes(log);
    expect_same_files(command, expected, tree(killed), history.str());
  }

  static void expect_nothing_half_written(const Command& command, const fs::path& dir,
                                          const std::map<std::string, std::string>& finished,
                                          const std::string& history) {
    for (const auto& [path, bytes] : tree(dir)) {
      if (is_temporary(path) || ends_with_any(path, command.rewritten)) continue;
      const auto it = finished.find(path);
      ASSERT_NE(it, finished.end()) << history << " left " << path << ", not in a finished run";
      if (!ends_with_any(path, command.volatile_files)) {
        EXPECT_TRUE(it->second == bytes)
            << history << " left " << path << " half-written or different";
      }
    }
  }

  static void expect_same_files(const Command& command,
                                const std::map<std::string, std::string>& expected,
                                const std::map<std::string, std::string>& actual,
                                const std::string& history) {
    std::vector<std::string> missing, extra, different;
    for (const auto& [path, bytes] : expected) {
      const auto it = actual.find(path);
      if (it == actual.end())
        missing.push_back(path);
      else if (it->second != bytes && !ends_with_any(path, command.volatile_files))
        different.push_back(path);
    }
    for (const auto& [path, bytes] : actual)
      if (!expected.contains(path)) extra.push_back(path);
    EXPECT_THAT(missing, ::testing::IsEmpty()) << history;
    EXPECT_THAT(extra, ::testing::IsEmpty()) << history << " (temporaries left?)";
    EXPECT_THAT(different, ::testing::IsEmpty()) << history;
  }

  fs::path dir_;
};

// Files a run rewrites in place (atomically) while it works; any state of them is whole.
const std::vector<std::string> kTrainRewrites = {"train_log.jsonl", "train_log.csv",
                                                 "run.json",        "state.json",
                                                 "optimizer.pt",    "model.safetensors"};
// Bytes that differ between two uninterrupted runs: timings in the training logs, and libtorch's
// optimizer archive, whose record order and ids follow memory addresses (its tensors are the
// same: the resumed weights match bit for bit).
const std::vector<std::string> kTrainVolatile = {"train_log.jsonl", "train_log.csv", "run.json",
                                                 "optimizer.pt"};

TEST_F(FaultInjection, RenderResumesToTheSameClips) {
  expect_resumes_to_the_same_result(
      {"render",
       [&](const fs::path& out, bool) {
         return Args{"render", "--family", "scenes", "--clips", "4",     "--frames",  "3",
                     "--size", "32",       "--seed", "4",       "--out", out.string()};
       },
       {},
       {}});
}

TEST_F(FaultInjection, ExtractResumesToTheSameCache) {
  render();
  expect_resumes_to_the_same_result(
      {"extract",
       [&](const fs::path& out, bool) { return extract_args("all", out); },
       {"manifest.json"},
       {}});
}

TEST_F(FaultInjection, TrainResumesToTheSameProbe) {
  render();
  extract("train");
  expect_resumes_to_the_same_result(
      {"train", [&](const fs::path& out, bool rerun) { return train_args(out, rerun); },
       kTrainRewrites, kTrainVolatile});
}

TEST_F(FaultInjection, EvalAndReportRerunToTheSameFiles) {
  render();
  extract("train");
  extract("test");
  ok(train_args(dir_ / "run", false));
  const auto eval = [&](const fs::path& out, bool) {
    return Args{"eval",
                "--run",
                (dir_ / "run").string(),
                "--features",
                (dir_ / "feats" / "test").string(),
                "--out",
                out.string()};
  };
  expect_resumes_to_the_same_result({"eval", eval, {}, {}}, 1);
  const auto report = [&](const fs::path& out, bool) {
    return Args{"report", "--eval", "objects/vit=" + (dir_ / "eval-reference").string(), "--out",
                out.string()};
  };
  expect_resumes_to_the_same_result({"report", report, {}, {}}, 1);
}

TEST_F(FaultInjection, SweepResumesToTheSameGrid) {
  render();
  const auto sweep = [&](const fs::path& out, bool) {
    return Args{"sweep",
                "--backbone",
                "random-vit",
                "--data",
                data().string(),
                "--layers",
                "1,2",
                "--steps",
                "4",
                "--config",
                (dir_ / "probe.json").string(),
                "--preset",
                "vidprobe",
                "--train-ratio",
                "0.6",
                "--frames",
                "4",
                "--gt-size",
                "16",
                "--seed",
                "3",
                "--out",
                out.string()};
  };
  std::vector<std::string> rewrites = kTrainRewrites;
  rewrites.push_back("manifest.json");
  // extraction.json is the last run's extraction summary: its timings and counts of clips
  // written and skipped differ in a resumed run by design.
  rewrites.push_back("extraction.json");
  auto volatile_files = kTrainVolatile;
  volatile_files.push_back("extraction.json");
  expect_resumes_to_the_same_result({"sweep", sweep, rewrites, volatile_files}, 1);
}

TEST_F(FaultInjection, AnnotateResumesToTheSameClips) {
  render();
  std::ifstream meta(fs::path(VIDPROBE_TEST_DATA_DIR) / "backbones" / "vggt" / "meta.json");
  std::ofstream(dir_ / "vggt.json") << nlohmann::json::parse(meta).at("small").dump();
  const auto annotate = [&](const fs::path& out, bool) {
    return Args{
        "annotate",
        "--data",
        data().string(),
        "--weights",
        (fs::path(VIDPROBE_TEST_DATA_DIR) / "backbones" / "vggt" / "small.safetensors").string(),
        "--model-config",
        (dir_ / "vggt.json").string(),
        "--backbone-size",
        "56",
        "--frames",
        "2",
        "--clips",
        "3",
        "--out",
        out.string()};
  };
  expect_resumes_to_the_same_result({"annotate", annotate, {}, {}});
}

// A tmpfs of `kilobytes` at dir, unmounted on destruction; empty() when this process may not
// mount one (not root, or no CAP_SYS_ADMIN in a container).
class SmallDisk {
 public:
  SmallDisk(const fs::path& dir, int kilobytes) : dir_(dir) {
    fs::create_directories(dir);
    const std::string size = "size=" + std::to_string(kilobytes) + "k";
    mounted_ = ::geteuid() == 0 && ::mount("tmpfs", dir.c_str(), "tmpfs", 0, size.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }

 private:
  fs::path dir_;
  bool mounted_ = false;
};

// A run writing to `out` on a full disk: exit status 1, an error naming the file it could not
// write and the cause, no temporaries on the disk, and every file it left is the finished run's
// `reference` (or, for files rewritten in place, a whole earlier state).
// The run ends with the disk's answer `cause` named next to the file it could not write.
void expect_clean_failure(const fs::path& disk, const fs::path& out, const Args& args,
                          const fs::path& reference, const std::vector<std::string>& rewritten,
                          const std::string& cause = "No space left on device",
                          std::vector<std::string> env = {}) {
  const auto log = disk.parent_path() / "failed-write.log";
  const Exit result = run(args, log, std::nullopt, std::move(env));
  const std::string message = read_bytes(log);
  EXPECT_EQ(result.status, 1) << message;
  EXPECT_THAT(message, ::testing::HasSubstr(cause)) << message;
  EXPECT_THAT(message, ::testing::HasSubstr(out.string())) << message;
  for (const auto& [path, bytes] : tree(disk))
    EXPECT_FALSE(is_temporary(path)) << "temporary left behind: " << path << "\n" << message;
  const auto finished = tree(reference);
  for (const auto& [path, bytes] : tree(out)) {
    if (ends_with_any(path, rewritten)) continue;
    const auto it = finished.find(path);
    ASSERT_NE(it, finished.end()) << path << " is not a file of a finished run";
    EXPECT_TRUE(it->second == bytes) << path << " is half-written";
  }
}

TEST_F(FaultInjection, AFullDiskFailsCleanlyInExtractAndTrain) {
  render();
  extract("train");
  ok(train_args(dir_ / "run", false));
  {
    // Room for some of the 3 training clips' shards (about 200 KB each) but not all.
    SmallDisk disk(dir_ / "small", 400);
    if (!disk.mounted())
      GTEST_SKIP() << "cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)";
    const auto out = dir_ / "small" / "cache";
    expect_clean_failure(dir_ / "small", out, extract_args("train", out), dir_ / "feats" / "train",
                         {"manifest.json"});
  }
  // Room for the run's config and first logs but not for a checkpoint (about 1.4 MB).
  SmallDisk disk(dir_ / "tiny", 600);
  ASSERT_TRUE(disk.mounted());
  const auto out = dir_ / "tiny" / "run";
  expect_clean_failure(dir_ / "tiny", out, train_args(out, false), dir_ / "run", kTrainRewrites);
}

// A disk that fails a write with EIO part-way through a file (eio_preload.cpp, preloaded into
// `vidprobe`): the checkpoint's weights or optimizer state, a feature shard, a cache's manifest.
// Each run must stop with a clear error naming the file, leaving no temporary and no
// half-written file under a final name.
std::vector<std::string> eio_in(const std::string& file_name_part, long long after_bytes) {
  return {std::string("LD_PRELOAD=") + VIDPROBE_EIO_PRELOAD,
          "VIDPROBE_EIO_PATHS_CONTAINING=" + file_name_part,
          "VIDPROBE_EIO_AFTER_BYTES=" + std::to_string(after_bytes)};
}

TEST_F(FaultInjection, AnIOErrorFailsCleanlyInExtractAndTrain) {
  render();
  extract("train");
  ok(train_args(dir_ / "run", false));
  const std::string cause = "Input/output error";
  const auto attempt = [&](const std::string& name, const Args& args, const fs::path& out,
                           const fs::path& reference, const std::vector<std::string>& rewritten,
                           std::vector<std::string> env) {
    SCOPED_TRACE(name);
    expect_clean_failure(out.parent_path(), out, args, reference, rewritten, cause, std::move(env));
  };
  for (const auto& [file, after] :
       {std::pair<std::string, long long>{"optimizer.pt", 4096}, {"model.safetensors", 4096}}) {
    const auto out = dir_ / ("eio-" + file) / "run";
    attempt("train, " + file, train_args(out, false), out, dir_ / "run", kTrainRewrites,
            eio_in(file, after));
  }
  const auto shards = dir_ / "eio-shard" / "cache";
  attempt("extract, a shard", extract_args("train", shards), shards, dir_ / "feats" / "train",
          {"manifest.json"}, eio_in(".safetensors", 300000));
  const auto manifest = dir_ / "eio-manifest" / "cache";
  attempt("extract, the manifest", extract_args("train", manifest), manifest,
          dir_ / "feats" / "train", {"manifest.json"}, eio_in("manifest.json", 0));
}

}  // namespace
}  // namespace vidprobe
