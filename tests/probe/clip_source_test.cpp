// Train and eval read feature caches through ClipSource::from_cache: a partial one is refused.
#include "vidprobe/probe/clip_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "probe/synthetic_shards.h"
#include "test_support.h"
#include "vidprobe/features/feature_cache.h"

namespace vidprobe::probe {
namespace {
namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ClipSource, APartialCacheIsRefusedUnlessAllowed) {
  const auto dir =
      fs::temp_directory_path() / ("vidprobe_partial_cache_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto spec = testing::SyntheticSpec{};
  spec.clips = 2;
  spec.size = 16;
  {
    features::CacheWriter writer(dir, {{"backbone", "synthetic"}},
                                 testing::synthetic_shards(spec).front().features.size(1));
    writer.expect(5);  // an extraction of 5 clips that stopped after 2
    for (auto& shard : testing::synthetic_shards(spec)) writer.write(std::move(shard));
  }
  EXPECT_THAT(test_support::error_message([&] { ClipSource::from_cache(dir); }),
              AllOf(HasSubstr(dir.string()), HasSubstr("3 of 5 clips are missing"),
                    HasSubstr("--allow-partial")));
  ::testing::internal::CaptureStderr();
  const auto partial = ClipSource::from_cache(dir, std::nullopt, std::int64_t{1} << 30, true);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("3 of 5 clips are missing"));
  EXPECT_EQ(partial.size(), 2u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::probe
