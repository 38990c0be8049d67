#pragma once
// The text context of WAN2.1: the umT5-XXL encoder (transformers UMT5EncoderModel; Wan-Video's
// wan/modules/t5.py) applied to the prompt's token ids, its output trimmed to the prompt's tokens
// and padded with zero vectors to 512 tokens, exactly as both pipelines build the context.
//
// umT5: token embedding; per layer (each with its own relative-position bias table; T5 v1.1,
// UMT5Config::shared_position_bias, uses layer 0's in every layer, as CogVideoX's encoder does):
// x += Attn(RMSNorm(x)) with unscaled dot products plus the bucketed relative bias (bidirectional:
// 16 buckets per direction, 8 exact then logarithmic up to max_distance); x += wo(gelu_tanh(wi_0
// RMSNorm(x)) * wi_1 RMSNorm(x)); a final RMSNorm.
//
// No tokenizer is linked: pass token ids (sentencepiece's umT5 vocabulary, EOS = 1 appended, no
// padding). The empty prompt is the single id {1}.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "vidprobe/backbones/wan/checkpoint.h"
#include "vidprobe/backbones/wan/config.h"

namespace vidprobe::backbones::wan {

inline constexpr int64_t kUMT5EosId = 1;

// The token ids of the empty prompt: EOS alone.
std::vector<int64_t> empty_prompt_ids();

class TextEncoder {
 public:
  TextEncoder(UMT5Config config, torch::Device device, torch::Dtype dtype);

  const UMT5Config& config() const { return config_; }
  Parameters& parameters() { return params_; }
  const Parameters& parameters() const { return params_; }
  // transformers UMT5EncoderModel keys (shared.weight or encoder.embed_tokens.weight,
  // encoder.block.N.layer.M...) or Wan-Video's T5Encoder keys (token_embedding.weight,
  // blocks.N.attn.q.weight, blocks.N.ffn.gate.0.weight, ...) converted to safetensors.
  void load(TensorMap&& checkpoint, const std::string& source);

  // ids (L,) of one prompt without padding -> last hidden state (L, d_model) float32.
  torch::Tensor encode(const torch::Tensor& ids) const;

 private:
  torch::Tensor attention(int layer, const torch::Tensor& x) const;
  UMT5Config config_;
  Parameters params_;
};

// The bucket of each relative position (key - query) for a bidirectional T5 encoder.
torch::Tensor relative_position_buckets(const torch::Tensor& relative_position, int num_buckets,
                                        int max_distance);

// (L, D) or (1, L, D) prompt embeddings -> (1, length, D) with zeros after the prompt's tokens.
torch::Tensor pad_context(const torch::Tensor& hidden, int length = kTextLength);

// A precomputed context file: a safetensors file holding one float tensor (or one named
// "context") of shape (L, D) or (1, L, D) with L <= 512, either the trimmed prompt embeddings or
// the padded context. Returns the padded (1, 512, D) context; throws vidprobe::Error naming the
// file when the shape or D (= expected_dim) is wrong.
torch::Tensor load_text_context(const std::filesystem::path& path, int expected_dim,
                                int length = kTextLength);

}  // namespace vidprobe::backbones::wan
