#pragma once
// Renaming of checkpoint keys between naming schemes (a reference's module tree -> ours).
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace vidprobe {

// Each (pattern, replacement) is applied in turn with std::regex_replace ($1 = a group).
using RenameRules = std::vector<std::pair<std::regex, std::string>>;
std::string rename_by_rules(const RenameRules& rules, const std::string& name);

}  // namespace vidprobe
