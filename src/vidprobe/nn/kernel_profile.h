#pragma once
// Where a piece of work spends its time, kernel by kernel, from libtorch's own (Kineto) profiler:
// the per-kernel evidence behind the speed figures of docs/perf.md. On CUDA it records the GPU
// kernels, copies and memsets; on the CPU the aten operators' self time (their time minus their
// child operators'), so each microsecond is counted once in both cases. Where the work runs
// under an nn::StageMeter, each kernel is also counted in the stage it ran in (a DiT's
// transformer apart from its VAE): the stage whose span on the CPU's clock holds the kernel's
// start, which the stage's synchronisation at entry and exit guarantees for its own kernels (a
// kernel that another thread launches meanwhile would count there too; the benchmarks run one).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vidprobe::nn {

struct KernelTime {
  std::string name;
  int64_t calls = 0;
  double total_ms = 0.0;
};

struct StageKernels {
  std::vector<KernelTime> kernels;  // largest total first
  double total_ms = 0.0;            // sum over `kernels`
};

struct KernelProfile {
  std::string device;  // "cuda" (GPU activities) or "cpu" (operator self time)
  StageKernels all;    // every kernel of the work
  // The same, split by the nn::ScopedStage each kernel started in (a kernel outside every stage
  // is only in `all`); empty when no stage was measured.
  std::map<std::string, StageKernels> stages = {};
};

// Runs `work` once under the profiler. `cuda`: record the GPU's activities (the caller
// synchronises inside `work` so that they are complete). A non-empty `trace` also gets the Chrome
// trace JSON (chrome://tracing, ui.perfetto.dev), written atomically; on CUDA with the operators'
// input shapes and strides, for tools/trace_kernel_ops.py.
KernelProfile profile_kernels(const std::function<void()>& work, bool cuda,
                              const std::filesystem::path& trace = {});

// {"device", "total_ms", "kernel_count", "kernels": [{"name", "calls", "total_ms", "share"}...]}
// with the `top` largest kernels (all when 0), and, when stages were measured, "stages": {name:
// the same fields for that stage's kernels}; tools/compare_kernel_profiles.py reads it.
nlohmann::json to_json(const KernelProfile& profile, std::size_t top = 0);

// The benchmarks' --profile: `work` once under the profiler (it must synchronise the device
// itself), writing dir/kernels.json (every kernel) and dir/trace.json. Returns the ten largest
// kernels with "kernels_file" naming the full list.
nlohmann::json profile_into_directory(const std::function<void()>& work, bool cuda,
                                      const std::filesystem::path& dir);

}  // namespace vidprobe::nn
