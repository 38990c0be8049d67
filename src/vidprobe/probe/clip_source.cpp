#include "vidprobe/probe/clip_source.h"

#include <algorithm>
#include <cmath>

#include "vidprobe/core/error.h"

namespace vidprobe::probe {
namespace fs = std::filesystem;

struct ClipSource::Storage {
  std::optional<features::FeatureCache> cache;
  std::vector<std::string> ids;
  bool keep_in_memory = true;
  mutable std::mutex mutex;
  mutable std::vector<std::optional<features::FeatureShard>> loaded;
};

ClipSource ClipSource::from_cache(const fs::path& cache_dir,
                                  std::optional<std::vector<std::string>> clip_ids,
                                  std::int64_t memory_budget_bytes, bool allow_partial) {
  auto cache = features::FeatureCache::open(cache_dir);
  features::require_complete(cache, allow_partial);
  std::vector<std::string> ids = clip_ids ? *clip_ids : cache.clip_ids();
  if (clip_ids) {
    const auto& known = cache.clip_ids();
    for (const auto& id : ids)
      require(std::find(known.begin(), known.end(), id) != known.end(),
              "clip '" + id + "' is not in the feature cache " + cache_dir.string());
  }
  std::int64_t total_bytes = 0;
  for (const auto& id : ids) {
    std::error_code error;
    const auto bytes = fs::file_size(cache.shard_path(id), error);
    if (!error) total_bytes += static_cast<std::int64_t>(bytes);
  }
  ClipSource source;
  source.storage_ = std::make_shared<Storage>();
  source.storage_->keep_in_memory = total_bytes <= memory_budget_bytes;
  source.storage_->ids = ids;
  source.storage_->loaded.resize(ids.size());
  source.manifest_ = cache.manifest();
  source.storage_->cache = std::move(cache);
  source.ids_ = ids;
  source.cache_dir_ = cache_dir;
  for (std::size_t i = 0; i < ids.size(); ++i) source.slots_.push_back(i);
  return source;
}

ClipSource ClipSource::from_shards(std::vector<features::FeatureShard> shards) {
  ClipSource source;
  source.storage_ = std::make_shared<Storage>();
  for (auto& shard : shards) {
    features::validate_shard(shard, "clip '" + shard.clip_id + "'");
    source.ids_.push_back(shard.clip_id);
    source.slots_.push_back(source.storage_->loaded.size());
    source.storage_->ids.push_back(shard.clip_id);
    source.storage_->loaded.emplace_back(std::move(shard));
  }
  source.manifest_ = nlohmann::json::object();
  return source;
}

features::FeatureShard ClipSource::load(std::size_t index) const {
  require(index < slots_.size(), "clip index " + std::to_string(index) + " out of range");
  const std::size_t slot = slots_[index];
  auto& storage = *storage_;
  {
    std::lock_guard lock(storage.mutex);
    if (storage.loaded[slot]) return *storage.loaded[slot];
  }
  auto shard = storage.cache->load(storage.ids[slot]);
  features::validate_shard(shard, "clip '" + shard.clip_id + "'");
  if (storage.keep_in_memory) {
    std::lock_guard lock(storage.mutex);
    storage.loaded[slot] = shard;
  }
  return shard;
}

ClipSource ClipSource::subset(const std::vector<std::size_t>& indices) const {
  ClipSource out;
  out.storage_ = storage_;
  out.cache_dir_ = cache_dir_;
  out.manifest_ = manifest_;
  for (std::size_t i : indices) {
    require(i < slots_.size(), "clip index " + std::to_string(i) + " out of range");
    out.slots_.push_back(slots_[i]);
    out.ids_.push_back(ids_[i]);
  }
  return out;
}

std::vector<std::size_t> seeded_permutation(std::size_t n, std::uint64_t seed) {
  std::uint64_t state = seed;
  auto next = [&state] {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  std::vector<std::size_t> perm(n);
  for (std::size_t i = 0; i < n; ++i) perm[i] = i;
  for (std::size_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[next() % i]);
  return perm;
}

std::pair<std::vector<std::size_t>, std::vector<std::size_t>> holdout_split(std::size_t n,
                                                                            double fraction,
                                                                            std::uint64_t seed) {
  require(fraction >= 0 && fraction < 1,
          "holdout fraction must be in [0, 1), got " + std::to_string(fraction));
  std::size_t held = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
  if (fraction > 0 && n >= 2) held = std::clamp<std::size_t>(held, 1, n - 1);
  if (n < 2) held = 0;
  auto perm = seeded_permutation(n, seed ^ 0x5EEDull);
  std::vector<std::size_t> train(perm.begin(), perm.end() - static_cast<std::ptrdiff_t>(held));
  std::vector<std::size_t> val(perm.end() - static_cast<std::ptrdiff_t>(held), perm.end());
  std::sort(train.begin(), train.end());
  std::sort(val.begin(), val.end());
  return {train, val};
}

std::vector<std::size_t> train_fraction_subset(std::size_t n, double fraction, std::uint64_t seed) {
  require(fraction > 0 && fraction <= 1,
          "--train-fraction must be in (0, 1], got " + std::to_string(fraction));
  if (n == 0) return {};
  const auto kept = std::clamp<std::size_t>(
      static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n))), 1, n);
  // A stream of its own, so that the subset does not depend on whether clips were held out.
  auto order = seeded_permutation(n, seed ^ 0x7472616966726163ULL);
  order.resize(kept);
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace vidprobe::probe
