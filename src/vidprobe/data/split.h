#pragma once
// Deterministic train/test splits of sequence ids.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vidprobe {

enum class Split { kAll, kTrain, kVal, kTest };

// "all" | "train" | "val" | "test"; throws vidprobe::Error naming the value otherwise.
Split parse_split(std::string_view name);
std::string to_string(Split split);

// Ranks the ids by stable_hash(seed, id) and gives the first round(train_ratio * n) to train,
// the rest to test, so the split is a pure function of the id set (not of listing order) and the
// ratio is exact (the paper's protocol: 9:1 on DL3DV). Returns the chosen part, sorted.
// kVal is not defined for hash splits and throws vidprobe::Error.
std::vector<std::string> hash_split(std::vector<std::string> ids, Split split, double train_ratio,
                                    std::uint64_t seed);

}  // namespace vidprobe
