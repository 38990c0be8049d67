#include "vidprobe/data/split.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "vidprobe/core/error.h"
#include "vidprobe/data/clip_sampling.h"

namespace vidprobe {

Split parse_split(std::string_view name) {
  if (name == "all") return Split::kAll;
  if (name == "train") return Split::kTrain;
  if (name == "val") return Split::kVal;
  if (name == "test") return Split::kTest;
  throw Error("unknown split '" + std::string(name) + "' (expected all, train, val or test)");
}

std::string to_string(Split split) {
  switch (split) {
    case Split::kAll:
      return "all";
    case Split::kTrain:
      return "train";
    case Split::kVal:
      return "val";
    case Split::kTest:
      return "test";
  }
  return "unknown";
}

std::vector<std::string> hash_split(std::vector<std::string> ids, Split split, double train_ratio,
                                    std::uint64_t seed) {
  require(train_ratio >= 0.0 && train_ratio <= 1.0,
          "train_ratio must lie in [0, 1], got " + std::to_string(train_ratio));
  require(split != Split::kVal,
          "split 'val' needs the dataset's own set lists; hash splits have only train and test");
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (split == Split::kAll) return ids;

  const std::string salt = std::to_string(seed) + ":";
  std::vector<std::pair<std::uint64_t, std::string>> ranked;
  ranked.reserve(ids.size());
  for (auto& id : ids) ranked.emplace_back(stable_hash(salt + id), std::move(id));
  std::sort(ranked.begin(), ranked.end());
  const auto train_count = static_cast<std::size_t>(std::llround(train_ratio * ranked.size()));
  std::vector<std::string> chosen;
  const std::size_t begin = split == Split::kTrain ? 0 : train_count;
  const std::size_t end = split == Split::kTrain ? train_count : ranked.size();
  for (std::size_t i = begin; i < end; ++i) chosen.push_back(std::move(ranked[i].second));
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace vidprobe
