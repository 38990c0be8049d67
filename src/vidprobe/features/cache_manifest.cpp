#include "vidprobe/features/cache_manifest.h"

#include <set>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"

namespace vidprobe::features {
namespace {

// Clip ids name files in clips/ (data::clip_id replaces separators), so an id that is empty, a
// path, or "." / ".." cannot come from an extraction and would read outside the cache.
void require_shard_names(const std::vector<std::string>& clips, const std::string& where) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < clips.size(); ++i) {
    const auto& id = clips[i];
    const auto entry = where + ": key 'clips' entry " + std::to_string(i) + " ('" + id + "')";
    require(!id.empty() && id != "." && id != ".." &&
                id.find_first_of("/\\") == std::string::npos && id.find('\0') == std::string::npos,
            entry + " cannot name a shard file in clips/");
    require(seen.insert(id).second, entry + " is listed twice");
  }
}

}  // namespace

CacheManifest parse_cache_manifest(const nlohmann::json& manifest,
                                   const std::filesystem::path& path) {
  const auto where = "feature cache manifest '" + path.string() + "'";
  require(manifest.is_object(), where + " must hold a JSON object");
  const auto format = json_get_or<std::string>(manifest, "format", "vidprobe-feature-cache", where);
  require(format == "vidprobe-feature-cache",
          where + ": key 'format' must be 'vidprobe-feature-cache', got '" + format + "'");
  const auto version = json_get_or<int>(manifest, "version", 1, where);
  require(version == 1,
          where + ": key 'version' is " + std::to_string(version) + ", this build reads version 1");
  require(!manifest.contains("identity") || manifest["identity"].is_object(),
          where + ": key 'identity' must be an object");
  CacheManifest parsed;
  if (manifest.contains("feature_dim")) {
    parsed.feature_dim = json_get<std::int64_t>(manifest, "feature_dim", where);
    require(*parsed.feature_dim > 0, where + ": key 'feature_dim' must be positive");
  }
  parsed.clips = json_get<std::vector<std::string>>(manifest, "clips", where);
  require_shard_names(parsed.clips, where);
  parsed.expected_clips =
      json_get_or<std::size_t>(manifest, "expected_clips", parsed.clips.size(), where);
  require(parsed.expected_clips >= parsed.clips.size(),
          where + ": key 'expected_clips' (" + std::to_string(parsed.expected_clips) +
              ") is below the " + std::to_string(parsed.clips.size()) + " clips it lists");
  return parsed;
}

}  // namespace vidprobe::features
