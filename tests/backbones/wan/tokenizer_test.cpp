// The umT5 prompt tokenization WAN conditions on: whitespace cleaning, sentencepiece pieces and
// the EOS id, with a tiny sentencepiece model trained here (the real spiece.model is 4.3 MB).
#include "vidprobe/backbones/wan/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "vidprobe/backbones/wan/backbone.h"
#include "vidprobe/core/error.h"

#if __has_include(<sentencepiece_trainer.h>)
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#define VIDPROBE_TEST_HAS_SENTENCEPIECE 1
#endif

namespace vidprobe::backbones::wan {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(WanTokenizer, WhitespaceIsCleanedAsByThePipeline) {
  EXPECT_EQ(clean_prompt_whitespace("  a   cat\n\tsits on  a mat "), "a cat sits on a mat");
  EXPECT_EQ(clean_prompt_whitespace(""), "");
  EXPECT_EQ(clean_prompt_whitespace(" \n "), "");
}

TEST(WanTokenizer, PromptAndPromptIdsAreAlternatives) {
  try {
    feature_options_from("wan2.1-t2v-1.3b", {{"prompt", "a cat"}, {"prompt_ids", "3,1"}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("prompt and prompt_ids are alternatives"));
  }
  EXPECT_EQ(feature_options_from("wan2.1-t2v-1.3b", {{"prompt", "a cat"}}).prompt, "a cat");
}

#ifdef VIDPROBE_TEST_HAS_SENTENCEPIECE
TEST(WanTokenizer, PromptBecomesSentencepiecePiecesThenEos) {
  ASSERT_TRUE(tokenizer_available());
  const auto dir = fs::temp_directory_path() / ("vidprobe_spm_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream corpus(dir / "corpus.txt");
    for (int i = 0; i < 50; ++i)
      corpus << "a camera orbits a red chair in a bright room\n"
             << "the cat sits on the mat near the window\n"
             << "a drone flies over green hills and a river\n";
  }
  // umT5's special ids: pad 0, EOS 1, unk 2, no BOS.
  const auto status = sentencepiece::SentencePieceTrainer::Train(
      "--input=" + (dir / "corpus.txt").string() + " --model_prefix=" + (dir / "spiece").string() +
      " --vocab_size=32 --pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1 --minloglevel=2");
  ASSERT_TRUE(status.ok()) << status.ToString();
  const auto model = dir / "spiece.model";

  const auto ids = tokenize_prompt(model, "  the cat\n sits  on the mat ");
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids.back(), kUmt5EosId);
  sentencepiece::SentencePieceProcessor processor;
  ASSERT_TRUE(processor.Load(model.string()).ok());
  std::vector<int> expected;
  ASSERT_TRUE(processor.Encode("the cat sits on the mat", &expected).ok());
  EXPECT_EQ(std::vector<int64_t>(ids.begin(), ids.end() - 1),
            std::vector<int64_t>(expected.begin(), expected.end()));
  std::string decoded;
  ASSERT_TRUE(processor.Decode(std::vector<int>(ids.begin(), ids.end() - 1), &decoded).ok());
  EXPECT_EQ(decoded, "the cat sits on the mat");
  // The empty prompt is EOS alone, as the default prompt_ids.
  EXPECT_EQ(tokenize_prompt(model, "   "), std::vector<int64_t>{kUmt5EosId});

  try {
    tokenize_prompt(dir / "missing.model", "a cat");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "missing.model").string()));
  }
  fs::remove_all(dir);
}
#endif

}  // namespace
}  // namespace vidprobe::backbones::wan
