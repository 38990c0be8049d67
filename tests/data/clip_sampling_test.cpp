#include "vidprobe/data/clip_sampling.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ClipSampling sampling(ClipSamplingMode mode, int count, int stride = 1, int start = 0,
                      std::uint64_t seed = 0) {
  return {mode, count, stride, start, seed};
}

TEST(ClipSampling, RandomIsSortedDistinctInRangeAndReproducible) {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const auto indices =
        sample_frame_indices(37, sampling(ClipSamplingMode::kRandom, 4, 1, 0, seed));
    ASSERT_EQ(indices.size(), 4u);
    for (std::size_t i = 0; i < indices.size(); ++i) {
      EXPECT_GE(indices[i], 0);
      EXPECT_LT(indices[i], 37);
      if (i > 0) {
        EXPECT_LT(indices[i - 1], indices[i]);
      }
    }
    EXPECT_EQ(indices,
              sample_frame_indices(37, sampling(ClipSamplingMode::kRandom, 4, 1, 0, seed)));
  }
}

TEST(ClipSampling, RandomDependsOnSeedAndCoversEveryFrame) {
  std::set<std::vector<int>> distinct;
  std::set<int> seen;
  for (std::uint64_t seed = 0; seed < 500; ++seed) {
    const auto indices =
        sample_frame_indices(20, sampling(ClipSamplingMode::kRandom, 4, 1, 0, seed));
    distinct.insert(indices);
    seen.insert(indices.begin(), indices.end());
  }
  EXPECT_GT(distinct.size(), 400u);  // C(20, 4) = 4845 subsets: collisions are rare
  EXPECT_EQ(seen.size(), 20u);
}

TEST(ClipSampling, RandomWithAllFramesReturnsEveryIndex) {
  EXPECT_THAT(sample_frame_indices(4, sampling(ClipSamplingMode::kRandom, 4, 1, 0, 99)),
              ElementsAre(0, 1, 2, 3));
}

TEST(ClipSampling, StridedStartsWhereAsked) {
  EXPECT_THAT(sample_frame_indices(20, sampling(ClipSamplingMode::kStrided, 4, 3, 5)),
              ElementsAre(5, 8, 11, 14));
  // The last frame exactly reachable: 10 + 3 * 3 = 19.
  EXPECT_THAT(sample_frame_indices(20, sampling(ClipSamplingMode::kStrided, 4, 3, 10)),
              ElementsAre(10, 13, 16, 19));
}

TEST(ClipSampling, StridedRandomStartStaysInBounds) {
  std::set<int> starts;
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    const auto indices =
        sample_frame_indices(20, sampling(ClipSamplingMode::kStrided, 4, 5, -1, seed));
    ASSERT_EQ(indices.size(), 4u);
    EXPECT_EQ(indices[3] - indices[0], 15);
    EXPECT_LE(indices[3], 19);
    starts.insert(indices[0]);
  }
  EXPECT_EQ(starts, (std::set<int>{0, 1, 2, 3, 4}));
}

TEST(ClipSampling, StridedPastTheEndThrows) {
  EXPECT_THAT([] { sample_frame_indices(20, sampling(ClipSamplingMode::kStrided, 4, 3, 11)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("start 11")));
  EXPECT_THAT([] { sample_frame_indices(10, sampling(ClipSamplingMode::kStrided, 4, 4)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("span 13")));
  EXPECT_THROW(sample_frame_indices(10, sampling(ClipSamplingMode::kStrided, 4, 0)), Error);
}

TEST(ClipSampling, UniformSpreadsFromFirstToLast) {
  EXPECT_THAT(sample_frame_indices(10, sampling(ClipSamplingMode::kUniform, 4)),
              ElementsAre(0, 3, 6, 9));
  EXPECT_THAT(sample_frame_indices(4, sampling(ClipSamplingMode::kUniform, 4)),
              ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(sample_frame_indices(5, sampling(ClipSamplingMode::kUniform, 4)),
              ElementsAre(0, 1, 3, 4));  // 0, 1.33, 2.67, 4 rounded
  EXPECT_THAT(sample_frame_indices(101, sampling(ClipSamplingMode::kUniform, 1)), ElementsAre(50));
}

TEST(ClipSampling, TooShortSequenceNamesBothCounts) {
  EXPECT_THAT([] { sample_frame_indices(3, sampling(ClipSamplingMode::kRandom, 4)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("3 frames, fewer than the 4")));
  EXPECT_THROW(sample_frame_indices(3, sampling(ClipSamplingMode::kUniform, 0)), Error);
}

TEST(ClipSampling, ParsesModesAndRejectsUnknownNames) {
  EXPECT_EQ(parse_clip_sampling_mode("random"), ClipSamplingMode::kRandom);
  EXPECT_EQ(parse_clip_sampling_mode("strided"), ClipSamplingMode::kStrided);
  EXPECT_EQ(parse_clip_sampling_mode("uniform"), ClipSamplingMode::kUniform);
  EXPECT_EQ(to_string(ClipSamplingMode::kStrided), "strided");
  EXPECT_THAT([] { parse_clip_sampling_mode("shuffle"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("'shuffle'")));
}

TEST(ClipSampling, StableHashIsFnv1a64) {
  // Published FNV-1a 64-bit test vectors.
  EXPECT_EQ(stable_hash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(stable_hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(stable_hash("foobar"), 0x85944171f73967e8ull);
}

TEST(ClipSampling, SplitMixBelowStaysBelowBound) {
  SplitMix64 rng(7);
  std::set<std::uint64_t> values;
  for (int i = 0; i < 1000; ++i) {
    const auto v = rng.below(6);
    EXPECT_LT(v, 6u);
    values.insert(v);
  }
  EXPECT_EQ(values.size(), 6u);
}

}  // namespace
}  // namespace vidprobe
