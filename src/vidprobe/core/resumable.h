#pragma once
// The one resumable-work loop of vidprobe (render, extract, annotate, import): long jobs stop and
// start again without redoing finished items, because every item's result is a file written under
// a temporary name and renamed, so "the file exists" means "the item is done".
//
// Item i is prepared by prepare(i), which returns std::nullopt when the item's results are already
// on disk (the item is skipped and counted) and otherwise what process() needs. With prefetch,
// item i + 1 is prepared on a second thread while item i is processed: reading, decoding and
// resizing the next clip takes as long as a network on a GPU. prepare then must not touch what
// process touches. Progress shows items (skipped ones included), rate and ETA. An exception from
// either function ends the loop and propagates (a pending preparation is waited for first).
//
// In a job of several processes each runs the loop over its own share of the items: item i belongs
// to process i mod shards (balanced, and the same whatever the order of finishing), so the union of
// the processes' results is what one process would have written. A rerun with another number of
// processes skips whatever any earlier process finished.
#include <cstddef>
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
  bool prefetch = false;
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
  const auto policy = options.prefetch ? std::launch::async : std::launch::deferred;
  const std::size_t shards = options.shards == 0 ? 1 : options.shards;
  const std::size_t first = options.shard;
  const std::size_t owned = count > first ? (count - first + shards - 1) / shards : 0;
  std::optional<Progress> progress;
  if (options.show_progress) progress.emplace(options.label, owned, options.unit);
  ResumableCounts counts;
  std::future<Prepared> next;
  if (owned > 0) next = std::async(policy, std::ref(prepare), first);
  for (std::size_t i = first; i < count; i += shards) {
    Prepared prepared = next.get();
    if (i + shards < count) next = std::async(policy, std::ref(prepare), i + shards);
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
