#include "vidprobe/nn/kernel_profile.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <numeric>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::nn {
namespace {

const KernelTime* find_kernel(const std::vector<KernelTime>& kernels, const std::string& name) {
  const auto found = std::find_if(kernels.begin(), kernels.end(),
                                  [&](const KernelTime& k) { return k.name == name; });
  return found == kernels.end() ? nullptr : &*found;
}

const KernelTime* find_kernel(const KernelProfile& profile, const std::string& name) {
  return find_kernel(profile.all.kernels, name);
}

bool any_kernel_contains(const std::vector<KernelTime>& kernels, const std::string& part) {
  return std::any_of(kernels.begin(), kernels.end(),
                     [&](const KernelTime& k) { return k.name.find(part) != std::string::npos; });
}

// An addition outside every stage, a product in the transformer stage, a scaling in the VAE's.
void run_staged_work(const torch::Tensor& a) {
  StageMeter meter(a.device());
  (void)(a + a);  // a tensor add: CUDAFunctor_add on the GPU (a scalar one is named otherwise)
  {
    ScopedStage stage(kTransformerStage);
    (void)torch::mm(a, a);
  }
  {
    ScopedStage stage(kVaeStage);
    (void)a.mul(2.0);
  }
}

// On the CPU the profile holds each operator's self time: a large matmul dominates, the calls are
// counted, and the nested operators (aten::matmul -> aten::mm) are not counted twice.
TEST(KernelProfile, CpuOperatorsWithSelfTimeAndCalls) {
  const auto a = torch::randn({512, 512}), b = torch::randn({512, 512});
  const auto dir = test_support::fresh_temp_dir("kernel_profile");
  const auto work = [&] {
    for (int i = 0; i < 3; ++i) (void)torch::matmul(a, b).add(1.0);
  };
  // Once unprofiled first: a first add can cost more than a matmul (its output's first pages,
  // the thread pool waking), which made the order below fail on a loaded 2-core machine.
  work();
  const auto profile = profile_kernels(work, /*cuda=*/false, dir / "trace.json");
  EXPECT_EQ(profile.device, "cpu");
  const auto* mm = find_kernel(profile, "aten::mm");
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(mm->calls, 3);
  const auto* add = find_kernel(profile, "aten::add");
  ASSERT_NE(add, nullptr);
  EXPECT_GE(add->calls, 3);  // the scalar overload may record itself and the tensor one
  EXPECT_GT(mm->total_ms, add->total_ms);  // 2 * 512^3 flops against 512^2 additions
  double sum = 0;
  for (const auto& kernel : profile.all.kernels) sum += kernel.total_ms;
  EXPECT_NEAR(sum, profile.all.total_ms, 1e-9);
  EXPECT_TRUE(std::is_sorted(
      profile.all.kernels.begin(), profile.all.kernels.end(),
      [](const KernelTime& x, const KernelTime& y) { return x.total_ms > y.total_ms; }));
  // aten::matmul is only a dispatcher around aten::mm: its self time is a small part of the
  // span that holds mm's.
  if (const auto* matmul = find_kernel(profile, "aten::matmul")) {
    EXPECT_LT(matmul->total_ms, mm->total_ms);
  }
  const auto trace = nlohmann::json::parse(read_file(dir / "trace.json"));
  EXPECT_TRUE(trace.contains("traceEvents"));
}

TEST(KernelProfile, JsonKeepsTheLargestKernelsWithTheirShare) {
  KernelProfile profile{
      .device = "cuda",
      .all = {.kernels = {{"gemm", 2, 3.0}, {"softmax", 1, 0.75}, {"copy", 4, 0.25}},
              .total_ms = 4.0}};
  const auto json = to_json(profile, 2);
  EXPECT_EQ(json["device"], "cuda");
  EXPECT_EQ(json["kernel_count"], 3);
  ASSERT_EQ(json["kernels"].size(), 2u);
  EXPECT_EQ(json["kernels"][0]["name"], "gemm");
  EXPECT_DOUBLE_EQ(json["kernels"][0]["share"].get<double>(), 0.75);
  EXPECT_EQ(to_json(profile)["kernels"].size(), 3u);
}

// tools/compare_kernel_profiles.py reads what to_json writes and sorts the kernels into
// categories: the side-by-side table of docs/perf.md. vidprobe's runtime rotary kernel is counted
// with the element-wise kernels it replaces.
TEST(KernelProfile, TheComparisonToolReadsItAndSortsKernelsIntoCategories) {
  const auto dir = test_support::fresh_temp_dir("kernel_profile_compare");
  const KernelProfile ours{
      .device = "cuda",
      .all = {.kernels = {{"sm90_xmma_gemm_bf16bf16_bf16f32", 48, 6.0},
                          {"pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits>", 24, 2.0},
                          {"rotary_forward_bf16_8", 24, 1.0}},
              .total_ms = 9.0}};
  const KernelProfile reference{
      .device = "cuda",
      .all = {
          .kernels = {{"nvjet_tst_128x256_64x4_2x1_v_bz_coopA_TNT", 48, 4.0},
                      {"fmha_cutlassF_bf16_aligned_64x128_rf_sm80", 24, 4.0},
                      {"void at::native::vectorized_elementwise_kernel<8, MulFunctor>", 48, 2.0}},
          .total_ms = 10.0}};
  write_file_atomically(dir / "ours.json", to_json(ours).dump());
  write_file_atomically(dir / "reference.json", to_json(reference).dump());
  const auto log = dir / "table.md";
  const std::string command = std::string(VIDPROBE_PYTHON) + " '" + VIDPROBE_SOURCE_DIR +
                              "/tools/compare_kernel_profiles.py' '" +
                              (dir / "ours.json").string() + "' '" +
                              (dir / "reference.json").string() + "' > '" + log.string() + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_file(log);
  const auto table = read_file(log);
  EXPECT_NE(table.find("| matmul | 6.00 | 4.00 | 1.50 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| attention | 2.00 | 4.00 | 0.50 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| elementwise | 1.00 | 2.00 | 0.50 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| total | 9.00 | 10.00 | 0.90 |"), std::string::npos) << table;
}

// Under a StageMeter each operator is also counted in the stage it started in; the stage's own
// scope on the profiler's timeline is not an operator and is counted nowhere.
TEST(KernelProfile, CountsEachOperatorInTheStageItRanIn) {
  const auto a = torch::randn({256, 256});
  const auto profile = profile_kernels([&] { run_staged_work(a); }, /*cuda=*/false);
  ASSERT_EQ(profile.stages.size(), 2u);
  const auto& transformer = profile.stages.at(kTransformerStage).kernels;
  const auto& vae = profile.stages.at(kVaeStage).kernels;
  EXPECT_NE(find_kernel(transformer, "aten::mm"), nullptr);
  EXPECT_EQ(find_kernel(transformer, "aten::mul"), nullptr);
  EXPECT_EQ(find_kernel(transformer, "aten::add"), nullptr);
  EXPECT_NE(find_kernel(vae, "aten::mul"), nullptr);
  EXPECT_EQ(find_kernel(vae, "aten::mm"), nullptr);
  EXPECT_NE(find_kernel(profile, "aten::add"), nullptr);  // outside the stages: only the whole
  EXPECT_FALSE(any_kernel_contains(profile.all.kernels, kStageScopePrefix));
  double staged = 0;
  for (const auto& [name, stage] : profile.stages) {
    EXPECT_NEAR(stage.total_ms,
                std::accumulate(stage.kernels.begin(), stage.kernels.end(), 0.0,
                                [](double sum, const KernelTime& k) { return sum + k.total_ms; }),
                1e-9);
    staged += stage.total_ms;
  }
  EXPECT_LE(staged, profile.all.total_ms + 1e-9);
  const auto json = to_json(profile, 1);
  ASSERT_TRUE(json.contains("stages"));
  EXPECT_EQ(json["stages"][kTransformerStage]["kernels"][0]["name"], "aten::mm");
  EXPECT_FALSE(to_json(profile_kernels([&] { (void)a.add(1.0); }, false)).contains("stages"));
}

// The same on the GPU: kernels are attributed by the time they started on the device, which the
// stage's synchronisation at both ends keeps inside its scope.
TEST(KernelProfileCuda, CountsEachKernelInTheStageItRanIn) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto a = torch::randn({1024, 1024}, torch::kCUDA);
  run_staged_work(a);  // warm-up: cuBLAS handles, kernel loading
  const auto profile = profile_kernels([&] { run_staged_work(a); }, /*cuda=*/true);
  ASSERT_EQ(profile.stages.size(), 2u);
  const auto& transformer = profile.stages.at(kTransformerStage).kernels;
  const auto& vae = profile.stages.at(kVaeStage).kernels;
  // The GEMM is there: not only the stage's own scope, which the GPU's timeline also shows.
  EXPECT_FALSE(any_kernel_contains(profile.all.kernels, kStageScopePrefix));
  ASSERT_FALSE(transformer.empty());
  double staged = 0;
  for (const auto& [name, stage] : profile.stages) staged += stage.total_ms;
  EXPECT_LE(staged, profile.all.total_ms + 1e-9);
  EXPECT_FALSE(any_kernel_contains(transformer, "MulFunctor"));
  EXPECT_FALSE(any_kernel_contains(transformer, "Functor_add"));
  EXPECT_TRUE(any_kernel_contains(vae, "MulFunctor"));
  EXPECT_FALSE(any_kernel_contains(vae, "Functor_add"));
  EXPECT_TRUE(any_kernel_contains(profile.all.kernels, "Functor_add"));
}

// One profile alone, one stage of it: the table of a DiT's transformer without its VAE, and a
// stage the profile lacks named in the error.
TEST(KernelProfile, TheComparisonToolReadsOneStageOfOneProfile) {
  const auto dir = test_support::fresh_temp_dir("kernel_profile_stage");
  KernelProfile profile{
      .device = "cuda",
      .all = {.kernels = {{"cudnn_conv3d_fprop", 10, 6.0}, {"nvjet_tst_gemm", 4, 2.0}},
              .total_ms = 8.0}};
  profile.stages["transformer"] = {.kernels = {{"nvjet_tst_gemm", 4, 2.0}}, .total_ms = 2.0};
  profile.stages["vae"] = {.kernels = {{"cudnn_conv3d_fprop", 10, 6.0}}, .total_ms = 6.0};
  write_file_atomically(dir / "kernels.json", to_json(profile).dump());
  const auto tool = std::string(VIDPROBE_PYTHON) + " '" + VIDPROBE_SOURCE_DIR +
                    "/tools/compare_kernel_profiles.py' '" + (dir / "kernels.json").string() + "'";
  const auto log = dir / "table.md";
  const auto run = [&](const std::string& stage) {
    return std::system((tool + " --stage " + stage + " > '" + log.string() + "' 2>&1").c_str());
  };
  ASSERT_EQ(run("transformer"), 0) << read_file(log);
  const auto table = read_file(log);
  EXPECT_NE(table.find("| matmul | 2.00 | 100.0% |"), std::string::npos) << table;
  EXPECT_EQ(table.find("convolution"), std::string::npos) << table;
  EXPECT_NE(run("decoder"), 0);
  EXPECT_NE(read_file(log).find("no stage 'decoder' (stages: transformer, vae)"), std::string::npos)
      << read_file(log);
}

// The work's exception reaches the caller and the profiler is off again: a second profile runs.
TEST(KernelProfile, AFailingWorkLeavesTheProfilerOff) {
  EXPECT_THROW(profile_kernels([] { throw std::runtime_error("boom"); }, false),
               std::runtime_error);
  const auto profile = profile_kernels([] { (void)torch::ones({4}).sum(); }, false);
  EXPECT_NE(find_kernel(profile, "aten::sum"), nullptr);
}

}  // namespace
}  // namespace vidprobe::nn
