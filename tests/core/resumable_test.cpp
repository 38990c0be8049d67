#include "vidprobe/core/resumable.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vidprobe {
namespace {

TEST(Resumable, SkipsFinishedItemsAndProcessesTheRestInOrder) {
  for (const bool prefetch : {false, true}) {
    std::vector<int> processed;
    const auto counts = run_resumable(
        6, {.label = "test", .prefetch = prefetch, .show_progress = false},
        [](std::size_t i) -> std::optional<int> {
          if (i % 3 == 0) return std::nullopt;  // "already on disk"
          return static_cast<int>(i) * 10;
        },
        [&](int value) { processed.push_back(value); });
    EXPECT_EQ(counts.processed, 4u);
    EXPECT_EQ(counts.skipped, 2u);
    EXPECT_EQ(processed, (std::vector<int>{10, 20, 40, 50})) << prefetch;
  }
}

TEST(Resumable, PrefetchPreparesTheNextItemOnAnotherThreadDuringProcessing) {
  const auto main_thread = std::this_thread::get_id();
  std::atomic<int> prepared_elsewhere = 0;
  run_resumable(
      3, {.label = "test", .prefetch = true, .show_progress = false},
      [&](std::size_t i) -> std::optional<std::size_t> {
        if (std::this_thread::get_id() != main_thread) ++prepared_elsewhere;
        return i;
      },
      [](std::size_t) {});
  EXPECT_EQ(prepared_elsewhere, 3);
}

TEST(Resumable, AnErrorStopsTheLoopAndPropagates) {
  for (const bool prefetch : {false, true}) {
    int processed = 0;
    EXPECT_THROW(run_resumable(
                     5, {.label = "test", .prefetch = prefetch, .show_progress = false},
                     [](std::size_t i) -> std::optional<std::size_t> {
                       if (i == 2) throw std::runtime_error("bad item 2");
                       return i;
                     },
                     [&](std::size_t) { ++processed; }),
                 std::runtime_error);
    EXPECT_EQ(processed, 2) << prefetch;
  }
}

TEST(Resumable, NothingToDoIsFine) {
  const auto counts = run_resumable(
      0, {.label = "test", .show_progress = false}, [](std::size_t) -> std::optional<int> { return 1; },
      [](int) { FAIL(); });
  EXPECT_EQ(counts.processed + counts.skipped, 0u);
}

}  // namespace
}  // namespace vidprobe
