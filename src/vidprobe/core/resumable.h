#pragma once
// The one resumable-work loop of vidprobe (render, extract, annotate, import): long jobs stop and
// start again without redoing finished items, because every item's result is a file written under
// a temporary name and renamed, so "the file exists" means "the item is done".
//
// Item i is prepared by prepare(i), which returns std::nullopt when the item's results are already
// on disk (the item is skipped and counted) and otherwise what process() needs. With prefetch N,
// the next N items are prepared on threads of their own while item i is processed, since reading,
// decoding and resizing a clip can take longer than a network on a GPU (a ViT-L reads 16 frames
// in ~12 ms); process() still sees the items one at a time, in order. prepare then must not touch
// what process touches, and with N > 1 it runs on several threads at once. Progress shows items
// (skipped ones included), rate and ETA. An exception from either function ends the loop and
// propagates (pending preparations are waited for first).
//
// In a job of several processes each runs the loop over its own share of the items: item i belongs
// to process i mod shards (balanced, and the same whatever the order of finishing), so the union of
// the processes' results is what one process would have written. A rerun with another number of
// processes skips whatever any earlier process finished.
#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "vidprobe/core/progress.h"

namespace vidprobe {

struct ResumableOptions {
  std::string label;           // e.g. "extract dinov2-vitl14"
  std::string unit = "items";  // e.g. "clips"
  std::size_t prefetch = 0;    // items prepared ahead, each on its own thread; 0: in line
  bool show_progress = true;
  std::size_t shard = 0, shards = 1;  // this process's share: the items with i % shards == shard
};

struct ResumableCounts {
  std::size_t processed = 0, skipped = 0;
};

template <typename Prepare, typename Process>
ResumableCounts run_resumable(std::size_t count, const ResumableOptions& options, Prepare&& prepare,
                              Process&& process) {
  using Prepared = std::invoke_result_t<Prepare&, std::size_t>;
  const auto policy = options.prefetch > 0 ? std::launch::async : std::launch::deferred;
  const std::size_t ahead_max = std::max<std::size_t>(options.prefetch, 1);
  const std::size_t shards = options.shards == 0 ? 1 : options.shards;
  const std::size_t first = options.shard;
  const std::size_t owned = count > first ? (count - first + shards - 1) / shards : 0;
  std::optional<Progress> progress;
  if (options.show_progress) progress.emplace(options.label, owned, options.unit);
  ResumableCounts counts;
  std::deque<std::future<Prepared>> ahead;  // the owned items after the current one, in order
  std::size_t launched = 0;
  auto launch = [&] {
    ahead.push_back(std::async(policy, std::ref(prepare), first + launched * shards));
    ++launched;
  };
  while (launched < owned && ahead.size() < ahead_max) launch();
  for (std::size_t n = 0; n < owned; ++n) {
    Prepared prepared = ahead.front().get();
    ahead.pop_front();
    if (launched < owned) launch();
    if (prepared) {
      process(std::move(*prepared));
      ++counts.processed;
    } else {
      ++counts.skipped;
    }
    if (progress) progress->advance();
  }
  if (progress) progress->finish();
  return counts;
}

}  // namespace vidprobe
