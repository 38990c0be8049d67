#include "vidprobe/nn/kernel_profile.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::nn {
namespace {

namespace profiler = torch::profiler::impl;
using torch::autograd::profiler::KinetoEvent;
using torch::autograd::profiler::ProfilerResult;
using Totals = std::map<std::string, KernelTime>;

bool is_stage_scope(const KinetoEvent& event) {
  return event.deviceType() == c10::DeviceType::CPU && event.name().starts_with(kStageScopePrefix);
}

struct StageSpan {
  std::string stage;
  uint64_t start_ns = 0, end_ns = 0;
};

// Every kernel, and each stage's: a kernel belongs to the stage scope it started in.
class Collector {
 public:
  explicit Collector(const ProfilerResult& result) {
    const std::string_view prefix = kStageScopePrefix;
    for (const auto& event : result.events())
      if (is_stage_scope(event))
        spans_.push_back({event.name().substr(prefix.size()), event.startNs(), event.endNs()});
  }

  void add(const std::string& name, uint64_t start_ns, int64_t nanoseconds) {
    add_to(all_, name, nanoseconds);
    for (const auto& span : spans_)
      if (start_ns >= span.start_ns && start_ns < span.end_ns) {
        add_to(stages_[span.stage], name, nanoseconds);
        break;
      }
  }

  const Totals& all() const { return all_; }
  const std::map<std::string, Totals>& stages() const { return stages_; }

 private:
  static void add_to(Totals& totals, const std::string& name, int64_t nanoseconds) {
    auto& entry = totals[name];
    entry.name = name;
    entry.calls += 1;
    entry.total_ms += static_cast<double>(nanoseconds) / 1e6;
  }

  std::vector<StageSpan> spans_;
  Totals all_;
  std::map<std::string, Totals> stages_;
};

// GPU activities (kernels, memcpy, memset) never nest, so their durations add up. A user scope
// (a stage's, or a record_function's) is also mirrored on the GPU's timeline, under the same name
// as on the CPU's: that span holds kernels rather than being one, so it is left out.
void add_gpu_activities(const ProfilerResult& result, Collector& collector) {
  std::set<std::string> cpu_names;
  for (const auto& event : result.events())
    if (event.deviceType() == c10::DeviceType::CPU) cpu_names.insert(event.name());
  for (const auto& event : result.events())
    if (event.deviceType() == c10::DeviceType::CUDA && !cpu_names.contains(event.name()))
      collector.add(event.name(), event.startNs(), static_cast<int64_t>(event.durationNs()));
}

// An operator's self time: its span minus the spans of the operators it called. The profiler's
// flat event list is enough: on one thread an operator's callees lie inside its span, so a stack
// of open spans, in order of start, finds each one's caller.
// A stage scope is not an operator: it is left out, and its operators count as their callers'.
void add_operator_self_times(const ProfilerResult& result, Collector& collector) {
  struct Span {
    const KinetoEvent* event;
    int64_t children_ns = 0;
  };
  std::map<uint64_t, std::vector<const KinetoEvent*>> by_thread;
  for (const auto& event : result.events())
    if (event.deviceType() == c10::DeviceType::CPU && !is_stage_scope(event))
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
      collector.add(span.event->name(), span.event->startNs(),
                    std::max<int64_t>(0, duration - span.children_ns));
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

// Largest total first.
StageKernels sorted_kernels(const Totals& totals) {
  StageKernels out;
  for (const auto& [name, time] : totals) {
    out.total_ms += time.total_ms;
    out.kernels.push_back(time);
  }
  std::sort(out.kernels.begin(), out.kernels.end(),
            [](const KernelTime& a, const KernelTime& b) { return a.total_ms > b.total_ms; });
  return out;
}

// {"total_ms", "kernel_count", "kernels": the `top` largest (all when 0)}.
nlohmann::json kernels_json(const StageKernels& stage, std::size_t top) {
  auto kernels = nlohmann::json::array();
  const std::size_t count = top == 0 ? stage.kernels.size() : std::min(top, stage.kernels.size());
  for (std::size_t i = 0; i < count; ++i) {
    const auto& kernel = stage.kernels[i];
    kernels.push_back({{"name", kernel.name},
                       {"calls", kernel.calls},
                       {"total_ms", kernel.total_ms},
                       {"share", stage.total_ms > 0 ? kernel.total_ms / stage.total_ms : 0.0}});
  }
  return {{"total_ms", stage.total_ms},
          {"kernel_count", stage.kernels.size()},
          {"kernels", std::move(kernels)}};
}

}  // namespace

KernelProfile profile_kernels(const std::function<void()>& work, bool cuda,
                              const std::filesystem::path& trace) {
  // A GPU trace records each operator's input shapes and strides too, so that a kernel can be
  // traced to the call that launched it (tools/trace_kernel_ops.py); the kernels' own times do
  // not include that bookkeeping, the CPU operators' self times would.
  const profiler::ProfilerConfig config(profiler::ProfilerState::KINETO,
                                        /*report_input_shapes=*/cuda && !trace.empty());
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
  Collector collector(*result);
  if (cuda)
    add_gpu_activities(*result, collector);
  else
    add_operator_self_times(*result, collector);
  require(!cuda || !collector.all().empty(),
          "the libtorch profiler recorded no GPU activity (is CUPTI available to this process?)");
  KernelProfile profile{.device = cuda ? "cuda" : "cpu", .all = sorted_kernels(collector.all())};
  for (const auto& [stage, totals] : collector.stages())
    profile.stages[stage] = sorted_kernels(totals);
  if (!trace.empty())
    write_atomically(trace, [&](const std::filesystem::path& tmp) { result->save(tmp.string()); });
  return profile;
}

nlohmann::json to_json(const KernelProfile& profile, std::size_t top) {
  auto out = kernels_json(profile.all, top);
  out["device"] = profile.device;
  for (const auto& [stage, kernels] : profile.stages)
    out["stages"][stage] = kernels_json(kernels, top);
  return out;
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
