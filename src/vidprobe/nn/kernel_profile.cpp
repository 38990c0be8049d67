#include "vidprobe/nn/kernel_profile.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <map>
#include <vector>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"

namespace vidprobe::nn {
namespace {

namespace profiler = torch::profiler::impl;
using Totals = std::map<std::string, KernelTime>;

void add(Totals& totals, const std::string& name, int64_t nanoseconds) {
  auto& entry = totals[name];
  entry.name = name;
  entry.calls += 1;
  entry.total_ms += static_cast<double>(nanoseconds) / 1e6;
}

// GPU activities (kernels, memcpy, memset) never nest, so their durations add up.
void add_gpu_activities(const torch::autograd::profiler::ProfilerResult& result, Totals& totals) {
  for (const auto& event : result.events())
    if (event.deviceType() == c10::DeviceType::CUDA)
      add(totals, event.name(), static_cast<int64_t>(event.durationNs()));
}

// An operator's self time: its span minus the spans of the operators it called. The profiler's
// flat event list is enough: on one thread an operator's callees lie inside its span, so a stack
// of open spans, in order of start, finds each one's caller.
void add_operator_self_times(const torch::autograd::profiler::ProfilerResult& result,
                             Totals& totals) {
  struct Span {
    const torch::autograd::profiler::KinetoEvent* event;
    int64_t children_ns = 0;
  };
  std::map<uint64_t, std::vector<const torch::autograd::profiler::KinetoEvent*>> by_thread;
  for (const auto& event : result.events())
    if (event.deviceType() == c10::DeviceType::CPU)
      by_thread[event.startThreadId()].push_back(&event);
  for (auto& [thread, events] : by_thread) {
    std::stable_sort(events.begin(), events.end(), [](const auto* a, const auto* b) {
      return a->startNs() != b->startNs() ? a->startNs() < b->startNs()
                                          : a->durationNs() > b->durationNs();
    });
    std::vector<Span> open;
    const auto close = [&] {
      const auto& span = open.back();
      const auto duration = static_cast<int64_t>(span.event->durationNs());
      add(totals, span.event->name(), std::max<int64_t>(0, duration - span.children_ns));
      open.pop_back();
      if (!open.empty()) open.back().children_ns += duration;
    };
    for (const auto* event : events) {
      while (!open.empty() && open.back().event->endNs() <= event->startNs()) close();
      open.push_back({event});
    }
    while (!open.empty()) close();
  }
}

}  // namespace

KernelProfile profile_kernels(const std::function<void()>& work, bool cuda,
                              const std::filesystem::path& trace) {
  const profiler::ProfilerConfig config(profiler::ProfilerState::KINETO);
  std::set<profiler::ActivityType> activities{profiler::ActivityType::CPU};
  if (cuda) activities.insert(profiler::ActivityType::CUDA);
  torch::autograd::profiler::prepareProfiler(config, activities);
  torch::autograd::profiler::enableProfiler(config, activities);
  try {
    work();
  } catch (...) {
    torch::autograd::profiler::disableProfiler();
    throw;
  }
  const auto result = torch::autograd::profiler::disableProfiler();
  require(result != nullptr, "the libtorch profiler returned no result");
  Totals totals;
  if (cuda)
    add_gpu_activities(*result, totals);
  else
    add_operator_self_times(*result, totals);
  require(!cuda || !totals.empty(),
          "the libtorch profiler recorded no GPU activity (is CUPTI available to this process?)");
  KernelProfile profile;
  profile.device = cuda ? "cuda" : "cpu";
  for (auto& [name, time] : totals) {
    profile.total_ms += time.total_ms;
    profile.kernels.push_back(std::move(time));
  }
  std::sort(profile.kernels.begin(), profile.kernels.end(),
            [](const KernelTime& a, const KernelTime& b) { return a.total_ms > b.total_ms; });
  if (!trace.empty())
    write_atomically(trace, [&](const std::filesystem::path& tmp) { result->save(tmp.string()); });
  return profile;
}

nlohmann::json to_json(const KernelProfile& profile, std::size_t top) {
  auto kernels = nlohmann::json::array();
  const std::size_t count =
      top == 0 ? profile.kernels.size() : std::min(top, profile.kernels.size());
  for (std::size_t i = 0; i < count; ++i) {
    const auto& kernel = profile.kernels[i];
    kernels.push_back({{"name", kernel.name},
                       {"calls", kernel.calls},
                       {"total_ms", kernel.total_ms},
                       {"share", profile.total_ms > 0 ? kernel.total_ms / profile.total_ms : 0.0}});
  }
  return {{"device", profile.device},
          {"total_ms", profile.total_ms},
          {"kernel_count", profile.kernels.size()},
          {"kernels", std::move(kernels)}};
}

nlohmann::json profile_into_directory(const std::function<void()>& work, bool cuda,
                                      const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const auto profile = profile_kernels(work, cuda, dir / "trace.json");
  write_file_atomically(dir / "kernels.json", to_json(profile).dump(1) + "\n");
  auto summary = to_json(profile, 10);
  summary["kernels_file"] = (dir / "kernels.json").string();
  return summary;
}

}  // namespace vidprobe::nn
