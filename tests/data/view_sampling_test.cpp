// The authors' view sampler (VideoProbeDataset with a seed), against the views their own code drew
// (tests/fixtures/vidfm3d/views.json, written by tools/make_vidfm3d_fixtures.py).
#include "vidprobe/data/view_sampling.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace vidprobe {
namespace {

nlohmann::json views_fixture() {
  std::ifstream in(std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "vidfm3d" / "views.json");
  return nlohmann::json::parse(in);
}

TEST(ViewSampling, SeededViewsAreTheAuthorsViews) {
  const auto fixture = views_fixture();
  const auto& c = fixture.at("sampler_config");
  const ViewSampling sampling{.count = c.at("num_views"),
                              .min_gap = c.at("min_view_interval"),
                              .context = c.at("context_len"),
                              .snap = c.at("query_idx_divisor")};
  const ViewSampling unsnapped{sampling.count, sampling.min_gap, sampling.context, 0};
  ASSERT_GE(fixture.at("sampler").size(), 12u);
  for (const auto& entry : fixture.at("sampler")) {
    const auto seed = entry.at("seed").get<std::uint64_t>();
    const auto index = entry.at("idx").get<std::uint64_t>();
    EXPECT_EQ(fixed_views(sampling, seed, index), entry.at("frames").get<std::vector<int64_t>>())
        << entry.dump();
    EXPECT_EQ(fixed_views(unsnapped, seed, index), entry.at("raw").get<std::vector<int64_t>>())
        << entry.dump();
  }
}

TEST(ViewSampling, DrawsRespectTheGapTheContextAndTheSnap) {
  const ViewSampling sampling;  // 4 views, gaps >= 5, first 76 frames, snapped to 4k + 1
  for (std::uint64_t clip = 0; clip < 200; ++clip) {
    const auto views = epoch_views(sampling, 42, 3, clip);
    ASSERT_EQ(views.size(), 4u);
    EXPECT_EQ(views[0], 0);
    for (std::size_t i = 1; i < views.size(); ++i) {
      EXPECT_GT(views[i], views[i - 1]);
      EXPECT_EQ((views[i] - 1) % 4, 0) << views[i];
      EXPECT_LT(views[i], 76);
    }
  }
  EXPECT_NE(epoch_views(sampling, 42, 0, 5), epoch_views(sampling, 42, 1, 5));
  EXPECT_EQ(epoch_views(sampling, 42, 1, 5), epoch_views(sampling, 42, 1, 5));
}

TEST(ViewSampling, ImpossibleSettingsAreNamed) {
  using ::testing::HasSubstr;
  EXPECT_THAT(test_support::error_message([] { validate(ViewSampling{.context = 15}); }),
              HasSubstr("views.context"));
  EXPECT_THAT(test_support::error_message([] { validate(ViewSampling{.min_gap = 2, .snap = 4}); }),
              HasSubstr("views.min_gap"));
  EXPECT_THAT(test_support::error_message([] { validate(ViewSampling{.count = -1}); }),
              HasSubstr("views.count"));
}

}  // namespace
}  // namespace vidprobe
