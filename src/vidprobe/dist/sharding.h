#pragma once
// Putting back together the work that run_resumable (core/resumable.h) shared out round-robin:
// item i was done by rank i mod world size, as that rank's (i / world size)-th result.
#include <cstddef>
#include <string>
#include <vector>

#include "vidprobe/core/resumable.h"
#include "vidprobe/dist/group.h"

namespace vidprobe::dist {

// This rank's share of a run_resumable loop over the items.
inline ResumableOptions share_of(const Group& group, ResumableOptions options) {
  options.shard = static_cast<std::size_t>(group.rank());
  options.shards = static_cast<std::size_t>(group.size());
  return options;
}

// Every rank's results (one string per item of its share, in its order), in item order: what one
// process would have produced. Collective: every rank calls it; every rank gets the whole list.
// Throws vidprobe::Error when a rank reports more or fewer results than its share of `count`.
std::vector<std::string> gather_in_item_order(const Group& group,
                                              const std::vector<std::string>& mine,
                                              std::size_t count);

}  // namespace vidprobe::dist
