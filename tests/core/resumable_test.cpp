#include "vidprobe/core/resumable.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vidprobe {
namespace {

TEST(Resumable, SkipsFinishedItemsAndProcessesTheRestInOrder) {
  for (const std::size_t prefetch : {0, 1, 3}) {
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
      3, {.label = "test", .prefetch = 1, .show_progress = false},
      [&](std::size_t i) -> std::optional<std::size_t> {
        if (std::this_thread::get_id() != main_thread) ++prepared_elsewhere;
        return i;
      },
      [](std::size_t) {});
  EXPECT_EQ(prepared_elsewhere, 3);
}

// With prefetch N, N items are prepared at once (a clip's decoding can take longer than the
// network), while process() still gets them one by one and in order.
TEST(Resumable, PrefetchNPreparesNItemsAtOnce) {
  for (const std::size_t prefetch : {1, 3}) {
    std::atomic<int> running = 0, most_running = 0;
    std::vector<std::size_t> processed;
    run_resumable(
        8, {.label = "test", .prefetch = prefetch, .show_progress = false},
        [&](std::size_t i) -> std::optional<std::size_t> {
          const int now = ++running;
          int seen = most_running;
          while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
          --running;
          return i;
        },
        [&](std::size_t i) {
          processed.push_back(i);
          std::this_thread::sleep_for(std::chrono::milliseconds(40));
        });
    EXPECT_EQ(most_running, static_cast<int>(prefetch));
    EXPECT_EQ(processed, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7})) << prefetch;
  }
}

TEST(Resumable, AnErrorStopsTheLoopAndPropagates) {
  for (const std::size_t prefetch : {0, 1, 3}) {
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
      0, {.label = "test", .show_progress = false},
      [](std::size_t) -> std::optional<int> { return 1; }, [](int) { FAIL(); });
  EXPECT_EQ(counts.processed + counts.skipped, 0u);
}

}  // namespace
}  // namespace vidprobe
