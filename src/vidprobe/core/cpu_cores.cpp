#include "vidprobe/core/cpu_cores.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>
#include <thread>

namespace vidprobe {
namespace {

std::optional<std::string> first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

std::optional<long> parse_long(std::string_view text) {
  long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

struct FreeCpuSet {
  void operator()(cpu_set_t* set) const { CPU_FREE(set); }
};

// The affinity mask's size; the mask is allocated for more CPUs until the kernel's fit
// (sched_getaffinity fails with EINVAL when the set is smaller than the kernel's).
std::optional<int> affinity_count() {
  for (int cpus = 1024; cpus <= (1 << 16); cpus *= 2) {
    const std::unique_ptr<cpu_set_t, FreeCpuSet> mask(CPU_ALLOC(cpus));
    if (!mask) return std::nullopt;
    const std::size_t bytes = CPU_ALLOC_SIZE(cpus);
    CPU_ZERO_S(bytes, mask.get());
    if (sched_getaffinity(0, bytes, mask.get()) == 0) return CPU_COUNT_S(bytes, mask.get());
    if (errno != EINVAL) return std::nullopt;
  }
  return std::nullopt;
}

std::optional<int> quota_cpus() {
  const auto line = first_line("/sys/fs/cgroup/cpu.max");  // "max 100000" or "400000 100000"
  if (!line) return std::nullopt;
  const auto space = line->find(' ');
  if (space == std::string::npos) return std::nullopt;
  const auto quota = parse_long(std::string_view(*line).substr(0, space));
  const auto period = parse_long(std::string_view(*line).substr(space + 1));
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<int>((*quota + *period - 1) / *period);
}

}  // namespace

std::optional<int> count_cpu_list(const std::string& text) {
  std::istringstream ranges(text);
  std::string range;
  int count = 0;
  while (std::getline(ranges, range, ',')) {
    const auto dash = range.find('-');
    const auto first = parse_long(std::string_view(range).substr(0, dash));
    const auto last =
        dash == std::string::npos ? first : parse_long(std::string_view(range).substr(dash + 1));
    if (!first || !last || *first < 0 || *last < *first) return std::nullopt;
    count += static_cast<int>(*last - *first + 1);
  }
  return count > 0 ? std::optional<int>(count) : std::nullopt;
}

CpuView read_cpu_view() {
  CpuView view;
  auto listed = [](const char* path) -> std::optional<int> {
    const auto line = first_line(path);
    return line ? count_cpu_list(*line) : std::nullopt;
  };
  const int online = listed("/sys/devices/system/cpu/online")
                         .value_or(static_cast<int>(std::thread::hardware_concurrency()));
  view.container = std::max(1, listed("/sys/fs/cgroup/cpuset.cpus.effective").value_or(online));
  view.affinity = std::max(1, affinity_count().value_or(view.container));
  view.quota = quota_cpus();
  return view;
}

int cores_for_process(const CpuView& view, int processes_on_node) {
  const int processes = std::max(1, processes_on_node);
  const int affinity = std::max(1, view.affinity);
  const int mine = affinity < view.container ? affinity : affinity / processes;
  const int allowed = view.quota ? *view.quota / processes : mine;
  return std::max(1, std::min(mine, allowed));
}

int cores_for_this_process(int processes_on_node) {
  return cores_for_process(read_cpu_view(), processes_on_node);
}

}  // namespace vidprobe
