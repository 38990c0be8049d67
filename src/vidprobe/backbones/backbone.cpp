#include "vidprobe/backbones/backbone.h"

#include <algorithm>

#include "vidprobe/core/error.h"

namespace vidprobe::backbones {

ClipTruth ClipTruth::select(const torch::Tensor& frames) const {
  const auto at = [&](const torch::Tensor& t) { return t.index_select(0, frames.to(t.device())); };
  return {at(depth), at(valid), at(extrinsics), at(intrinsics)};
}

std::vector<FeatureMaps> Backbone::extract_from_truth(const torch::Tensor&, const ClipTruth&,
                                                      const std::vector<ExtractionPoint>&) {
  throw Error("backbone '" + name() + "' does not read ground truth");
}

void require_known_extra_options(const std::string& backbone,
                                 const std::map<std::string, std::string>& extra,
                                 const std::vector<std::string>& known) {
  for (const auto& [key, value] : extra) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw Error("backbone '" + backbone + "' has no option '" + key + "' (--backbone-opt " + key +
                "=" + value + "); " + (known.empty() ? "it takes none" : "it takes: " + list));
  }
}

void read_zero_one_option(const std::map<std::string, std::string>& extra, const std::string& key,
                          bool& value) {
  const auto found = extra.find(key);
  if (found == extra.end()) return;
  require(found->second == "0" || found->second == "1",
          "--backbone-opt " + key + " must be 0 or 1, got '" + found->second + "'");
  value = found->second == "1";
}

}  // namespace vidprobe::backbones
