#pragma once
// Where the probe's clips come from: a feature cache on disk (features/feature_cache.h) or shards
// already in memory (tests, benchmarks). Shards of small caches are kept in memory after their
// first read so that training does not re-read them every epoch.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vidprobe/features/feature_cache.h"

namespace vidprobe::probe {

class ClipSource {
 public:
  // All clips of the cache, or the listed ones (in that order). Unknown ids are errors, and so
  // is a partial cache (an extraction that did not finish) unless allow_partial
  // (features::require_complete).
  static ClipSource from_cache(const std::filesystem::path& cache_dir,
                               std::optional<std::vector<std::string>> clip_ids = std::nullopt,
                               std::int64_t memory_budget_bytes = std::int64_t{4} << 30,
                               bool allow_partial = false);
  static ClipSource from_shards(std::vector<features::FeatureShard> shards);

  std::size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }
  const std::vector<std::string>& ids() const { return ids_; }
  // The cache directory, empty for in-memory sources.
  const std::filesystem::path& cache_dir() const { return cache_dir_; }
  const nlohmann::json& manifest() const { return manifest_; }

  // Loads clip i; validates its tensors (names the clip and the tensor at fault).
  features::FeatureShard load(std::size_t index) const;
  // The clips whose positions are listed, as a new source over the same storage.
  ClipSource subset(const std::vector<std::size_t>& indices) const;

 private:
  struct Storage;
  std::shared_ptr<Storage> storage_;
  std::vector<std::size_t> slots_;  // per clip: index into storage
  std::vector<std::string> ids_;
  std::filesystem::path cache_dir_;
  nlohmann::json manifest_;
};

// Deterministic split for --holdout: a seeded permutation, the last round(fraction * n) clips
// (at least one when fraction > 0 and n >= 2) are held out. Returns (train, held-out) positions.
std::pair<std::vector<std::size_t>, std::vector<std::size_t>> holdout_split(std::size_t n,
                                                                            double fraction,
                                                                            std::uint64_t seed);

// --train-fraction: the positions of max(1, round(fraction * n)) clips, the first of a seeded
// permutation (independent of the holdout's), sorted. Nested: a smaller fraction's clips are a
// subset of a larger one's at the same seed.
std::vector<std::size_t> train_fraction_subset(std::size_t n, double fraction, std::uint64_t seed);

// A portable Fisher-Yates permutation of 0..n-1 from a SplitMix64 stream (the same on every
// standard library, unlike std::shuffle).
std::vector<std::size_t> seeded_permutation(std::size_t n, std::uint64_t seed);

}  // namespace vidprobe::probe
