// CPython's `random` (MT19937 init_by_array seeding, getrandbits, random, _randbelow, shuffle)
// reproduced bit for bit, against CPython's own outputs (tests/fixtures/vidfm3d/python_random.json,
// written by tools/make_vidfm3d_processing_fixtures.py).
#include "vidprobe/core/python_random.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

nlohmann::json fixture_cases() {
  std::ifstream in(std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "vidfm3d" /
                   "python_random.json");
  return nlohmann::json::parse(in).at("cases");
}

TEST(PythonRandom, Uint32OutputsMatchCPython) {
  const auto cases = fixture_cases();
  ASSERT_GE(cases.size(), 5u);
  for (const auto& entry : cases) {
    PythonRandom random(entry.at("seed").get<std::uint64_t>());
    for (const auto& expected : entry.at("uint32"))
      EXPECT_EQ(random.next_uint32(), expected.get<std::uint32_t>()) << entry.at("seed");
  }
}

TEST(PythonRandom, GetrandbitsOfEveryWidthMatchesCPython) {
  for (const auto& entry : fixture_cases()) {
    PythonRandom random(entry.at("seed").get<std::uint64_t>());
    const auto& expected = entry.at("getrandbits");
    ASSERT_EQ(expected.size(), 64u);
    for (int bits = 1; bits <= 64; ++bits)
      EXPECT_EQ(random.getrandbits(bits),
                std::stoull(expected.at(static_cast<std::size_t>(bits - 1)).get<std::string>()))
          << "seed " << entry.at("seed") << " bits " << bits;
  }
}

TEST(PythonRandom, RandomAndRandbelowMatchCPython) {
  for (const auto& entry : fixture_cases()) {
    const auto seed = entry.at("seed").get<std::uint64_t>();
    PythonRandom random(seed);
    for (const auto& expected : entry.at("random"))
      EXPECT_EQ(random.random(), expected.get<double>()) << seed;
    PythonRandom below(seed);
    for (const auto& pair : entry.at("randbelow"))
      EXPECT_EQ(below.randbelow(pair.at(0).get<std::uint64_t>()), pair.at(1).get<std::uint64_t>())
          << seed << " n " << pair.at(0);
  }
}

TEST(PythonRandom, ShuffleMatchesCPython) {
  for (const auto& entry : fixture_cases()) {
    for (const auto& expected : entry.at("shuffle")) {
      PythonRandom random(entry.at("seed").get<std::uint64_t>());
      std::vector<int> items(expected.size());
      std::iota(items.begin(), items.end(), 0);
      random.shuffle(items);
      EXPECT_EQ(items, expected.get<std::vector<int>>()) << entry.at("seed");
    }
  }
}

TEST(PythonRandom, RejectsOutOfRangeRequests) {
  PythonRandom random(0);
  EXPECT_THROW(random.getrandbits(0), Error);
  EXPECT_THROW(random.getrandbits(65), Error);
  EXPECT_THROW(random.randbelow(0), Error);
}

}  // namespace
}  // namespace vidprobe
