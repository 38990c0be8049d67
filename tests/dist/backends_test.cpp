// The c10d backends as vidprobe builds them against the torch wheel, without a launcher: ranks are
// threads sharing an in-memory store, so these run in one test process. (The launched jobs are
// tested with real processes in tests/apps/distributed_cli_test.cpp.)
#include "vidprobe/dist/backends.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <thread>
#include <torch/csrc/distributed/c10d/HashStore.hpp>

namespace vidprobe::dist {
namespace {

constexpr std::chrono::milliseconds kTimeout = std::chrono::seconds(60);

torch::Tensor all_reduced(const c10::intrusive_ptr<c10d::Backend>& backend, torch::Tensor value) {
  std::vector<torch::Tensor> tensors{std::move(value)};
  backend->allreduce(tensors)->wait();
  return tensors[0];
}

TEST(DistBackends, GlooSumsOverRanks) {
  const auto store = c10::make_intrusive<c10d::HashStore>();
  constexpr int kRanks = 3;
  std::vector<torch::Tensor> results(kRanks);
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < kRanks; ++rank)
    ranks.emplace_back([&, rank] {
      const auto backend = detail::make_gloo_backend(store, rank, kRanks, kTimeout);
      results[rank] = all_reduced(backend, torch::full({4}, double(rank + 1)));
    });
  for (auto& rank : ranks) rank.join();
  for (const auto& result : results) EXPECT_TRUE(torch::equal(result, torch::full({4}, 6.0)));
}

// NCCL refuses two ranks on one GPU, so one rank is what a one-GPU machine can run: it proves the
// backend is built against the wheel's NCCL, creates its communicator and reduces device memory.
TEST(DistBackends, NcclReducesOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto store = c10::make_intrusive<c10d::HashStore>();
  const auto backend = detail::make_nccl_backend(store, 0, 1, 0, kTimeout);
  const auto value = torch::arange(8, torch::dtype(torch::kFloat32).device(torch::kCUDA));
  const auto result = all_reduced(backend, value.clone());
  EXPECT_TRUE(torch::equal(result.cpu(), value.cpu()));
  EXPECT_TRUE(result.is_cuda());
}

}  // namespace
}  // namespace vidprobe::dist
