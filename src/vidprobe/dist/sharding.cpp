#include "vidprobe/dist/sharding.h"

#include <nlohmann/json.hpp>

#include "vidprobe/core/error.h"

namespace vidprobe::dist {

std::vector<std::string> gather_in_item_order(const Group& group,
                                              const std::vector<std::string>& mine,
                                              std::size_t count) {
  const auto gathered = group.all_gather_bytes(nlohmann::json(mine).dump());
  const auto size = static_cast<std::size_t>(group.size());
  std::vector<std::vector<std::string>> per_rank;
  for (std::size_t rank = 0; rank < size; ++rank) {
    per_rank.push_back(nlohmann::json::parse(gathered[rank]).get<std::vector<std::string>>());
    const std::size_t share = count > rank ? (count - rank + size - 1) / size : 0;
    require(per_rank.back().size() == share,
            "rank " + std::to_string(rank) + " reports " + std::to_string(per_rank.back().size()) +
                " results for its share of " + std::to_string(share) + " items");
  }
  std::vector<std::string> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) out.push_back(per_rank[i % size][i / size]);
  return out;
}

}  // namespace vidprobe::dist
