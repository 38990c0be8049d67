#pragma once
// The feature cache's manifest.json, read without libtorch (the fuzz target links no tensor code).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vidprobe::features {

struct CacheManifest {
  std::vector<std::string> clips;           // the clips whose shards are complete
  std::size_t expected_clips = 0;           // what the extraction set out to write (>= clips)
  std::optional<std::int64_t> feature_dim;  // channels of every shard, when recorded
};

// The manifest's fields as CacheWriter writes them. A manifest of another format or version, or
// with a field of the wrong type or range, or a clip id that cannot name a shard file, is refused
// naming the file and the key. Only "clips" is required: hand-written manifests (tests, older
// tools) may leave the others out.
CacheManifest parse_cache_manifest(const nlohmann::json& manifest,
                                   const std::filesystem::path& path);

}  // namespace vidprobe::features
