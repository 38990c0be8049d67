#pragma once
// The umT5 tokenizer WAN2.1 conditions on (google/umt5-xxl's sentencepiece model, spiece.model),
// as the official pipeline applies it: whitespace runs collapsed to one space and the ends
// stripped, sentencepiece pieces, then EOS (id 1). Available when vidprobe is built with Debian's
// libsentencepiece-dev (VIDPROBE_HAVE_SENTENCEPIECE); otherwise tokenize_prompt throws, and a
// prompt can still be given as ids (--backbone-opt prompt_ids=...).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vidprobe::backbones::wan {

inline constexpr int64_t kUmt5EosId = 1;

// Whitespace as WAN's prompt cleaning leaves it: runs of spaces, tabs and newlines become one
// space; leading and trailing whitespace goes.
std::string clean_prompt_whitespace(const std::string& prompt);

bool tokenizer_available();

// Throws vidprobe::Error naming the model file when it is missing or unreadable.
std::vector<int64_t> tokenize_prompt(const std::filesystem::path& spiece_model,
                                     const std::string& prompt);

}  // namespace vidprobe::backbones::wan
