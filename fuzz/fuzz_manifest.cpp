// The feature cache's manifest.json (FeatureCache::open, CacheWriter's resume): parse_json, then
// parse_cache_manifest. It refuses what it cannot take naming the file and key, or returns the
// clip list with the invariants train and eval rely on.
#include <cstdint>

#include "fuzz_support.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/features/cache_manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  fuzz::expect_clean([&] {
    const auto manifest = features::parse_cache_manifest(
        parse_json(fuzz::as_text(data, size), "manifest.json"), "manifest.json");
    if (manifest.expected_clips < manifest.clips.size()) std::abort();
    if (manifest.feature_dim && *manifest.feature_dim <= 0) std::abort();
    for (const auto& id : manifest.clips)
      if (id.empty() || id.find('/') != std::string::npos) std::abort();
  });
  return 0;
}
