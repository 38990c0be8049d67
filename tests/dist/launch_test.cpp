// The job's layout as torchrun and srun describe it in the environment.
#include "vidprobe/dist/launch.h"

#include <gtest/gtest.h>

#include <map>

#include "test_support.h"
#include "vidprobe/dist/group.h"

namespace vidprobe::dist {
namespace {

Environment env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(DistLaunch, NoVariablesIsOneProcess) {
  const auto launch = launch_from_environment(env({}));
  EXPECT_FALSE(launch.distributed());
  EXPECT_EQ(launch.rank, 0);
  EXPECT_EQ(launch.world_size, 1);
  EXPECT_EQ(launch.launcher, "single");
}

TEST(DistLaunch, ReadsTorchrunVariables) {
  const auto launch = launch_from_environment(env({{"RANK", "5"},
                                                   {"WORLD_SIZE", "8"},
                                                   {"LOCAL_RANK", "1"},
                                                   {"LOCAL_WORLD_SIZE", "4"},
                                                   {"MASTER_ADDR", "node0"},
                                                   {"MASTER_PORT", "29500"}}));
  EXPECT_TRUE(launch.distributed());
  EXPECT_EQ(launch.rank, 5);
  EXPECT_EQ(launch.world_size, 8);
  EXPECT_EQ(launch.local_rank, 1);
  EXPECT_EQ(launch.local_world_size, 4);
  EXPECT_EQ(launch.master_addr, "node0");
  EXPECT_EQ(launch.master_port, 29500);
  EXPECT_EQ(launch.launcher, "torchrun");
  EXPECT_FALSE(launch.agent_store);
}

// torchrun's elastic agent serves the store itself and says so; rank 0 must not start another.
TEST(DistLaunch, TorchrunsAgentStoreIsUsedAsIs) {
  const auto launch = launch_from_environment(env({{"RANK", "0"},
                                                   {"WORLD_SIZE", "2"},
                                                   {"MASTER_ADDR", "127.0.0.1"},
                                                   {"MASTER_PORT", "29500"},
                                                   {"TORCHELASTIC_USE_AGENT_STORE", "True"}}));
  EXPECT_TRUE(launch.agent_store);
}

TEST(DistLaunch, ReadsSrunStepVariablesAndTasksPerNodeRepeats) {
  const auto launch = launch_from_environment(env({{"SLURM_PROCID", "3"},
                                                   {"SLURM_STEP_NUM_TASKS", "8"},
                                                   {"SLURM_LOCALID", "3"},
                                                   {"SLURM_STEP_TASKS_PER_NODE", "4(x2)"},
                                                   {"SLURM_NTASKS", "8"},
                                                   {"MASTER_ADDR", "gpu17"},
                                                   {"MASTER_PORT", "12345"}}));
  EXPECT_EQ(launch.launcher, "slurm");
  EXPECT_EQ(launch.rank, 3);
  EXPECT_EQ(launch.world_size, 8);
  EXPECT_EQ(launch.local_world_size, 4);
}

TEST(DistLaunch, ABatchScriptWithoutSrunIsOneProcess) {
  // sbatch sets SLURM_NTASKS for the allocation; only srun sets the step's variables.
  const auto launch = launch_from_environment(env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}}));
  EXPECT_FALSE(launch.distributed());
}

TEST(DistLaunch, TorchrunWinsInsideASlurmStep) {
  const auto launch = launch_from_environment(env({{"RANK", "1"},
                                                   {"WORLD_SIZE", "2"},
                                                   {"SLURM_PROCID", "0"},
                                                   {"SLURM_STEP_NUM_TASKS", "1"},
                                                   {"MASTER_ADDR", "h"},
                                                   {"MASTER_PORT", "1"}}));
  EXPECT_EQ(launch.launcher, "torchrun");
  EXPECT_EQ(launch.rank, 1);
}

TEST(DistLaunch, BadLayoutsNameTheVariable) {
  using test_support::error_message;
  const auto fails = [](std::map<std::string, std::string> values) {
    return error_message([&] { launch_from_environment(env(values)); });
  };
  EXPECT_NE(fails({{"RANK", "0"}}).find("WORLD_SIZE"), std::string::npos);
  EXPECT_NE(fails({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}})
                .find("RANK must lie in 0..1"),
            std::string::npos);
  EXPECT_NE(fails({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK"), std::string::npos);
  EXPECT_NE(fails({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR"),
            std::string::npos);
  EXPECT_NE(
      fails({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
          .find("MASTER_PORT must lie in 1..65535"),
      std::string::npos);
  EXPECT_NE(fails({{"RANK", "0"},
                   {"WORLD_SIZE", "2"},
                   {"LOCAL_RANK", "3"},
                   {"LOCAL_WORLD_SIZE", "2"},
                   {"MASTER_ADDR", "h"},
                   {"MASTER_PORT", "1"}})
                .find("LOCAL_RANK"),
            std::string::npos);
}

// The processes of a job on one machine share its cores (core/cpu_cores.h): the group says how
// many there are, a process without a launcher included.
TEST(DistLaunch, TheGroupKnowsItsProcessesOnThisMachine) {
  EXPECT_EQ(Group().processes_on_node(), 1);
  Launch alone;  // nothing to join, yet the machine may hold other jobs' processes: as given
  alone.local_world_size = 3;
  ASSERT_FALSE(alone.distributed());
  EXPECT_EQ(Group::join(alone, torch::kCPU).processes_on_node(), 3);
}

}  // namespace
}  // namespace vidprobe::dist
