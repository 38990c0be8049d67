// The one JSON parser and field reader (core/json_fields.h): parse_json, then json_get of every
// type vidprobe reads on every key of the document's top-level object (or of its first element).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "vidprobe/core/json_fields.h"

namespace {

template <typename T>
void read_as(const nlohmann::json& object, const std::string& key) {
  vidprobe::fuzz::expect_clean([&] { (void)vidprobe::json_get<T>(object, key, "fuzz"); });
}

void read_every_way(const nlohmann::json& object) {
  if (!object.is_object()) return;
  for (const auto& item : object.items()) {
    const std::string key = item.key();
    read_as<bool>(object, key);
    read_as<int>(object, key);
    read_as<std::int64_t>(object, key);
    read_as<std::uint32_t>(object, key);
    read_as<std::uint64_t>(object, key);
    read_as<double>(object, key);
    read_as<float>(object, key);
    read_as<std::string>(object, key);
    read_as<std::vector<double>>(object, key);
    read_as<std::vector<int>>(object, key);
    read_as<std::vector<std::vector<double>>>(object, key);
    read_as<std::vector<std::string>>(object, key);
    vidprobe::fuzz::expect_clean([&] { (void)vidprobe::json_get_or<int>(object, key, 0, "fuzz"); });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  fuzz::expect_clean([&] {
    const auto json = parse_json(fuzz::as_text(data, size), "fuzz.json");
    read_every_way(json);
    if (json.is_array() && !json.empty()) read_every_way(json.front());
    (void)json.dump();
  });
  return 0;
}
