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
};

struct ResumableCounts {
  std::size_t processed = 0, skipped = 0;
};

template <typename Prepare, typename Process>
ResumableCounts run_resumable(std::size_t count, const ResumableOptions& options, Prepare&& prepare,
                              Process&& process) {
  using Prepared = std::invoke_result_t<Prepare&, std::size_t>;
  const auto policy = options.prefetch ? std::launch::async : std::launch::deferred;
  std::optional<Progress> progress;
  if (options.show_progress) progress.emplace(options.label, count, options.unit);
  ResumableCounts counts;
  std::future<Prepared> next;
  if (count > 0) next = std::async(policy, std::ref(prepare), std::size_t{0});
  for (std::size_t i = 0; i < count; ++i) {
    Prepared prepared = next.get();
    if (i + 1 < count) next = std::async(policy, std::ref(prepare), i + 1);
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
