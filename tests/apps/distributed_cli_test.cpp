// Multi-process jobs on Gloo over loopback, launched as torchrun launches them (RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT): their results equal one process's.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe {
namespace {
namespace fs = std::filesystem;

// A TCP port nothing listens on now (the kernel's pick for port 0).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// The files under `dir` (relative path -> bytes).
std::map<std::string, std::string> files_of(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) out[fs::relative(entry.path(), dir).string()] = read_file(entry);
  return out;
}

class DistributedCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_support::fresh_temp_dir("distributed");
    std::ofstream(dir_ / "probe.json") << R"({
      "preset": "vidprobe",
      "model": {"width": 32, "num_heads": 2, "num_blocks": 2, "mlp_ratio": 2.0},
      "heads": {"dense": {"features": 8, "out_channels": [8, 8, 16, 16]},
                "camera": {"trunk_depth": 1}},
      "train": {"lr": 0.001, "checkpoint_every": 1000, "log_every": 1}})";
    run("render --family objects --clips 7 --frames 4 --size 32 --seed 3 --out " + path("data"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return "'" + (dir_ / name).string() + "'"; }

  void run(const std::string& arguments) {
    const auto log = dir_ / "log.txt";
    ASSERT_EQ(test_support::run_vidprobe(arguments, log), 0) << arguments << "\n" << read_file(log);
  }

  // `vidprobe -q arguments` as `processes` ranks of one job; every rank must succeed.
  void run_job(int processes, const std::string& arguments) {
    const int port = free_port();
    std::string script = "pids=''; ";
    for (int rank = 0; rank < processes; ++rank)
      script += "RANK=" + std::to_string(rank) + " WORLD_SIZE=" + std::to_string(processes) +
                " LOCAL_RANK=" + std::to_string(rank) +
                " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " +
                VIDPROBE_BINARY + " -q " + arguments + " > '" +
                (dir_ / ("rank" + std::to_string(rank) + ".log")).string() +
                "' 2>&1 & pids=\"$pids $!\"; ";
    script += "status=0; for p in $pids; do wait $p || status=1; done; exit $status";
    const int status = WEXITSTATUS(std::system(("bash -c '" + escape(script) + "'").c_str()));
    std::string logs;
    for (int rank = 0; rank < processes; ++rank)
      logs += read_file(dir_ / ("rank" + std::to_string(rank) + ".log"));
    ASSERT_EQ(status, 0) << processes << " processes: " << arguments << "\n" << logs;
  }

  static std::string escape(const std::string& script) {
    std::string out;
    for (char c : script) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out;
  }

  std::string extract_args(const std::string& out) const {
    return "extract --backbone random-vit --data " + path("data") +
           " --frames 4 --gt-size 16 --seed 3 --dtype fp32 --out " + path(out);
  }

  fs::path dir_;
};

TEST_F(DistributedCli, ShardedExtractionEqualsOneProcessBitForBit) {
  run(extract_args("one"));
  run_job(2, extract_args("two"));
  run_job(3, extract_args("three"));
  const auto one = files_of(dir_ / "one");
  ASSERT_EQ(one.size(), 8u);  // 7 shards and the manifest
  EXPECT_TRUE(one == files_of(dir_ / "two"));
  EXPECT_TRUE(one == files_of(dir_ / "three"));
}

TEST_F(DistributedCli, ACrashedRanksClipsAreRedoneByAJobOfAnotherSize) {
  run(extract_args("one"));
  run_job(2, extract_args("two"));
  // What a rank killed mid-job leaves: its later shards missing, one as a temporary of a dead
  // process, and a manifest that does not list them (rank 0's record of its own clips).
  auto manifest = nlohmann::json::parse(read_file(dir_ / "two" / "manifest.json"));
  std::vector<std::string> kept;
  for (std::size_t i = 0; i < manifest["clips"].size(); ++i) {
    const auto id = manifest["clips"][i].get<std::string>();
    if (i % 2 == 1 && i > 1)
      fs::rename(dir_ / "two" / "clips" / (id + ".safetensors"),
                 dir_ / "two" / "clips" / (id + ".safetensors.tmp.999999.0"));
    else
      kept.push_back(id);
  }
  manifest["clips"] = kept;
  write_file_atomically(dir_ / "two" / "manifest.json", manifest.dump(2) + "\n");
  run_job(3, extract_args("two"));
  EXPECT_TRUE(files_of(dir_ / "one") == files_of(dir_ / "two"));
}

TEST_F(DistributedCli, DataParallelTrainingEqualsOneProcessWithTheSameGlobalBatch) {
  run(extract_args("features"));
  const auto train = [&](const std::string& out, int steps, const std::string& extra) {
    return "train --features " + path("features") + " --config " + path("probe.json") +
           " --batch 2 --steps " + std::to_string(steps) + " --seed 3 --threads 1 --out " +
           path(out) + " " + extra;
  };
  run(train("one", 4, "--grad-accumulation 2"));
  run_job(2, train("two", 4, ""));
  const auto config = nlohmann::json::parse(read_file(dir_ / "two" / "config.json"));
  EXPECT_EQ(config["job"]["processes"], 2);
  EXPECT_EQ(config["job"]["global_batch"], 4);
  const auto one = SafetensorsFile::open(dir_ / "one" / "model.safetensors");
  const auto two = SafetensorsFile::open(dir_ / "two" / "model.safetensors");
  ASSERT_EQ(one.names(), two.names());
  for (const auto& name : one.names()) {
    const auto a = to_tensor(one.view(name)), b = to_tensor(two.view(name));
    EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5)) << name;
  }
  // The logged losses are the job's (averaged over ranks), as one process logs them.
  const auto last_loss = [&](const std::string& run) {
    std::ifstream log(dir_ / run / "train_log.jsonl");
    std::string line, last;
    while (std::getline(log, line)) last = line;
    return nlohmann::json::parse(last)["loss"].get<double>();
  };
  EXPECT_NEAR(last_loss("one"), last_loss("two"), 1e-5);
  // Training changed the weights: the comparison above is not between two initialisations.
  run(train("short", 1, "--grad-accumulation 2"));
  const auto short_run = SafetensorsFile::open(dir_ / "short" / "model.safetensors");
  double moved = 0;
  for (const auto& name : one.names())
    moved +=
        (to_tensor(one.view(name)) - to_tensor(short_run.view(name))).abs().sum().item<double>();
  EXPECT_GT(moved, 0);

  // Evaluation under a job writes what one process writes, byte for byte: 3 ranks share 4
  // batches (rank 0 evaluates two), rank 1 draws a visualised clip, rank 0 gathers and writes.
  // (--run-dir in the job: torchrun's own parser refuses --run, an abbreviation of its options.)
  const auto eval = [&](const std::string& run_option, const std::string& out) {
    return "eval " + run_option + " " + path("one") + " --features " + path("features") +
           " --batch 2 --visualize 3 --threads 1 --out " + path(out);
  };
  run(eval("--run", "eval1"));
  run_job(3, eval("--run-dir", "eval3"));
  const auto expected = files_of(dir_ / "eval1");
  EXPECT_GE(expected.size(), 5u);  // metrics.json, per_clip.csv and the visuals
  EXPECT_TRUE(expected == files_of(dir_ / "eval3"));
  EXPECT_EQ(read_file(dir_ / "eval1" / "per_clip.csv"), read_file(dir_ / "eval3" / "per_clip.csv"));
}

TEST_F(DistributedCli, ATorchrunJobOfOneProcessRunsThroughTheProcessGroup) {
  run(extract_args("one"));
  run_job(1, extract_args("job"));
  EXPECT_TRUE(files_of(dir_ / "one") == files_of(dir_ / "job"));
  run_job(1, "train --features " + path("job") + " --config " + path("probe.json") +
                 " --batch 2 --steps 1 --out " + path("run"));
  const auto config = nlohmann::json::parse(read_file(dir_ / "run" / "config.json"));
  EXPECT_EQ(config["job"]["backend"], "gloo");
  EXPECT_EQ(config["job"]["processes"], 1);
}

// torchrun itself (the venv's torch): its elastic agent serves the store, the ranks join it as
// clients, and eval takes its run as --run-dir (torchrun's parser refuses --run).
TEST_F(DistributedCli, TorchrunItselfLaunchesExtractTrainAndEval) {
  run(extract_args("one"));
  const auto torchrun = [&](const std::string& arguments) {
    const auto log = dir_ / "torchrun.log";
    const std::string command = std::string(VIDPROBE_PYTHON) +
                                " -m torch.distributed.run --standalone --nproc-per-node 2 "
                                "--no-python " +
                                VIDPROBE_BINARY + " -q " + arguments + " > '" + log.string() +
                                "' 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command << "\n" << read_file(log);
    EXPECT_EQ(read_file(log).find("failed to bind"), std::string::npos) << read_file(log);
  };
  torchrun(extract_args("job"));
  auto files = files_of(dir_ / "job");
  auto expected = files_of(dir_ / "one");
  // The manifest records the thread count, which torchrun sets to 1 per process.
  files.erase("manifest.json");
  expected.erase("manifest.json");
  EXPECT_TRUE(files == expected);
  torchrun("train --features " + path("job") + " --config " + path("probe.json") +
           " --batch 1 --steps 2 --out " + path("run"));
  EXPECT_EQ(nlohmann::json::parse(read_file(dir_ / "run" / "config.json"))["job"]["processes"], 2);
  torchrun("eval --run-dir " + path("run") + " --features " + path("job") + " --out " +
           path("eval"));
  EXPECT_TRUE(fs::exists(dir_ / "eval" / "metrics.json"));
}

TEST_F(DistributedCli, AResumeMustKeepTheGlobalBatch) {
  run(extract_args("features"));
  const auto train = "train --features " + path("features") + " --config " + path("probe.json") +
                     " --batch 2 --seed 3 --out " + path("run");
  run(train + " --steps 2");
  const auto log = dir_ / "log.txt";
  EXPECT_EQ(test_support::run_vidprobe(train + " --resume --steps 3 --grad-accumulation 2", log),
            1);
  EXPECT_NE(read_file(log).find("global batch is 2 clips but this job's is 4"), std::string::npos)
      << read_file(log);
}

}  // namespace
}  // namespace vidprobe
