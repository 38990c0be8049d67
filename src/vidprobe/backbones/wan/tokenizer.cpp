#include "vidprobe/backbones/wan/tokenizer.h"

#include <cctype>

#include "vidprobe/core/error.h"

#ifdef VIDPROBE_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

namespace vidprobe::backbones::wan {

std::string clean_prompt_whitespace(const std::string& prompt) {
  std::string out;
  bool pending_space = false;
  for (const unsigned char c : prompt) {
    if (std::isspace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += static_cast<char>(c);
  }
  return out;
}

bool tokenizer_available() {
#ifdef VIDPROBE_HAVE_SENTENCEPIECE
  return true;
#else
  return false;
#endif
}

std::vector<int64_t> tokenize_prompt(const std::filesystem::path& spiece_model,
                                     const std::string& prompt) {
#ifdef VIDPROBE_HAVE_SENTENCEPIECE
  require(std::filesystem::exists(spiece_model),
          "umT5 tokenizer model '" + spiece_model.string() + "' does not exist");
  sentencepiece::SentencePieceProcessor processor;
  const auto status = processor.Load(spiece_model.string());
  require(status.ok(), "cannot load the umT5 tokenizer model '" + spiece_model.string() +
                           "': " + status.ToString());
  std::vector<int> pieces;
  const auto encoded = processor.Encode(clean_prompt_whitespace(prompt), &pieces);
  require(encoded.ok(),
          "cannot tokenize the prompt with '" + spiece_model.string() + "': " + encoded.ToString());
  std::vector<int64_t> ids(pieces.begin(), pieces.end());
  ids.push_back(kUmt5EosId);
  return ids;
#else
  (void)prompt;
  throw Error("this vidprobe was built without sentencepiece (Debian libsentencepiece-dev), so '" +
              spiece_model.string() +
              "' cannot tokenize a prompt; pass --backbone-opt prompt_ids=... instead");
#endif
}

}  // namespace vidprobe::backbones::wan
