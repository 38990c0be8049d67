#include "vidprobe/core/rename_rules.h"

namespace vidprobe {

std::string rename_by_rules(const RenameRules& rules, const std::string& name) {
  std::string renamed = name;
  for (const auto& [pattern, replacement] : rules)
    renamed = std::regex_replace(renamed, pattern, replacement);
  return renamed;
}

}  // namespace vidprobe
