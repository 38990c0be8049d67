// NumPy's default_rng reproduced bit for bit, against NumPy's own outputs
// (tests/fixtures/vidfm3d/views.json, written by tools/make_vidfm3d_fixtures.py).
#include "vidprobe/core/numpy_random.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace vidprobe {
namespace {

nlohmann::json views_fixture() {
  std::ifstream in(std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "vidfm3d" / "views.json");
  return nlohmann::json::parse(in);
}

std::vector<std::uint64_t> entropy_of(const nlohmann::json& value) {
  if (value.is_array()) return value.get<std::vector<std::uint64_t>>();
  return {value.get<std::uint64_t>()};
}

TEST(NumpyRandom, Pcg64RawOutputsMatchNumpy) {
  const auto fixture = views_fixture().at("pcg64");
  ASSERT_FALSE(fixture.empty());
  for (const auto& entry : fixture) {
    NumpyGenerator generator(entry.at("seed").get<std::uint64_t>());
    for (const auto& expected : entry.at("raw"))
      EXPECT_EQ(generator.next_uint64(), std::stoull(expected.get<std::string>())) << entry.dump();
  }
}

TEST(NumpyRandom, SeedSequenceStateMatchesNumpy) {
  const auto fixture = views_fixture().at("seed_sequence");
  ASSERT_FALSE(fixture.empty());
  for (const auto& entry : fixture) {
    const auto expected = entry.at("state").get<std::vector<std::uint32_t>>();
    EXPECT_EQ(seed_sequence_state(entropy_of(entry.at("entropy")), 4), expected) << entry.dump();
  }
}

TEST(NumpyRandom, BoundedIntegersMatchNumpy) {
  const auto fixture = views_fixture().at("integers");
  ASSERT_FALSE(fixture.empty());
  int checked = 0;
  for (const auto& entry : fixture) {
    const auto high = entry.at("high").get<std::int64_t>();
    NumpyGenerator generator(entry.at("seed").get<std::uint64_t>());
    for (const auto& expected : entry.at("values"))
      EXPECT_EQ(generator.integers(0, high), expected.get<std::int64_t>()) << entry.dump();
    ++checked;
  }
  EXPECT_EQ(checked, 12);
}

}  // namespace
}  // namespace vidprobe
