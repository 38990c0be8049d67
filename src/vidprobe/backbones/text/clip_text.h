#pragma once
// CLIP's text transformer as transformers' CLIPTextModel computes it (the text tower of
// openai/clip-vit-large-patch14, whose pooled vector conditions Open-Sora 2.0's MMDiT):
//
//  ids (B, L) --token + learned position embeddings--> L pre-norm blocks (LayerNorm, causal
//  multi-head attention with q/k/v/out biases, LayerNorm, fc1 -> quick GELU -> fc2; nn::Block)
//  --> final LayerNorm = last_hidden_state; pooler_output = the state at the prompt's EOS token.
//
// The EOS position is found as transformers does: with the legacy config value eos_token_id = 2
// (openai/clip-vit-large-patch14's config.json) the argmax of the ids (the EOS id 49407 is the
// largest of the vocabulary, so the first EOS), otherwise the first id equal to eos_token_id.
//
// No tokenizer is linked: pass token ids (clip_empty_prompt_ids gives the empty prompt's).
#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/text/clip_text_config.h"
#include "vidprobe/nn/transformer.h"

namespace vidprobe::backbones::text {

// The empty prompt as CLIPTokenizer(padding="max_length") gives it: BOS, EOS, then the pad id.
std::vector<int64_t> clip_empty_prompt_ids(int length, int64_t pad_id = kClipEosId);

struct ClipTextOutput {
  torch::Tensor last_hidden_state;  // (B, L, hidden)
  torch::Tensor pooler_output;      // (B, hidden)
};

class ClipTextModelImpl : public torch::nn::Module {
 public:
  explicit ClipTextModelImpl(ClipTextConfig config);
  // ids (B, L) int64, L <= max_position_embeddings; no padding mask (as Open-Sora calls it).
  ClipTextOutput forward(const torch::Tensor& ids);
  const ClipTextConfig& config() const { return config_; }

  torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm final_layer_norm{nullptr};

 private:
  ClipTextConfig config_;
};
TORCH_MODULE(ClipTextModel);

// Loads a CLIPTextModel or CLIPModel state dict (text_model.embeddings.token_embedding.weight,
// text_model.encoder.layers.N.self_attn.q_proj.weight, ...; the vision tower, the projections,
// logit_scale and the position_ids buffer are dropped, as CLIPTextModel.from_pretrained does)
// strictly: any other missing, unexpected or mis-shaped key is an error naming source.
void load_clip_text(ClipTextModel& model, TensorMap checkpoint, const std::string& source);

}  // namespace vidprobe::backbones::text
