#include "vidprobe/core/json_fields.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test_support.h"

namespace vidprobe {
namespace {

using nlohmann::json;
using test_support::error_message;

// The error's message holds every fragment.
template <typename Body>
void expect_error(Body&& body, const std::vector<std::string>& fragments) {
  const auto message = error_message(body);
  for (const auto& fragment : fragments)
    EXPECT_NE(message.find(fragment), std::string::npos) << message << " lacks " << fragment;
}

TEST(JsonFields, ReadsExactValues) {
  const auto obj = json::parse(R"({"n": 3, "w": 960.0, "x": 0.5, "s": "a", "b": true,
                                   "v": [1, 2], "big": 4000000000})");
  EXPECT_EQ(json_get<int>(obj, "n", "f.json"), 3);
  EXPECT_EQ(json_get<int>(obj, "w", "f.json"), 960);
  EXPECT_EQ(json_get<double>(obj, "n", "f.json"), 3.0);
  EXPECT_EQ(json_get<std::string>(obj, "s", "f.json"), "a");
  EXPECT_TRUE(json_get<bool>(obj, "b", "f.json"));
  EXPECT_EQ(json_get<std::vector<int>>(obj, "v", "f.json"), (std::vector<int>{1, 2}));
  EXPECT_EQ(json_get<std::int64_t>(obj, "big", "f.json"), 4000000000);
  EXPECT_EQ(json_get_or<int>(obj, "absent", 7, "f.json"), 7);
}

TEST(JsonFields, LossyValuesAreErrorsNamingFileKeyAndValue) {
  const auto obj = json::parse(R"({"x": 1.5, "neg": -1, "big": 4000000000, "one": 1, "s": 2})");
  expect_error([&] { json_get<int>(obj, "x", "f.json"); }, {"f.json", "'x'", "integer", "1.5"});
  expect_error([&] { json_get<unsigned>(obj, "neg", "f.json"); }, {"'neg'", "non-negative"});
  expect_error([&] { json_get<int>(obj, "big", "f.json"); }, {"'big'", "out of range"});
  expect_error([&] { json_get<bool>(obj, "one", "f.json"); }, {"'one'", "true or false"});
  expect_error([&] { json_get<std::string>(obj, "s", "f.json"); }, {"'s'", "string"});
  expect_error([&] { json_get<int>(obj, "missing", "f.json"); }, {"f.json", "missing key"});
  expect_error([&] { json_get<int>(json::array(), "x", "f.json"); }, {"f.json", "JSON object"});
}

TEST(JsonFields, ParsingRefusesHostileNestingAndNamesTheSource) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_error([&] { parse_json(deep, "clip.json"); }, {"clip.json", "nested deeper than 256"});
  // Brackets inside strings do not count; nesting up to the limit parses.
  const std::string fine =
      std::string(kMaxJsonDepth, '[') + "\"[[[[{{{\"" + std::string(kMaxJsonDepth, ']');
  EXPECT_NO_THROW(parse_json(fine, "ok.json"));
  expect_error([&] { parse_json("{\"a\": }", "config.json"); }, {"config.json", "malformed JSON"});
}

// Found by tools/hostile_campaign.py: CO3D's image.size [4294967312, 16] was read as [16, 16],
// nlohmann converting array elements without a range check.
TEST(JsonFields, ArrayElementsAreCheckedAsTheirTypeNamingTheIndex) {
  const auto obj =
      json::parse(R"({"size": [4294967312, 16], "m": [[1, 2], [3, "x"]], "n": [1, -1]})");
  expect_error([&] { json_get<std::vector<int>>(obj, "size", "a.jgz"); },
               {"a.jgz", "'size'", "element [0]", "out of range", "4294967312"});
  expect_error([&] { json_get<std::vector<std::vector<double>>>(obj, "m", "f.json"); },
               {"'m'", "element [1]: element [1]: expected a number"});
  expect_error([&] { json_get<std::vector<std::size_t>>(obj, "n", "f.json"); },
               {"element [1]", "non-negative"});
  EXPECT_EQ(json_get<std::vector<std::vector<double>>>(json::parse(R"({"m": [[1, 2.5]]})"), "m",
                                                       "f.json"),
            (std::vector<std::vector<double>>{{1.0, 2.5}}));
}

}  // namespace
}  // namespace vidprobe
