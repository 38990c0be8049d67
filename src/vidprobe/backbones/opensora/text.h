#pragma once
// Open-Sora 2.0's text conditioning for the empty prompt (the paper's): what the official
// HFEmbedder pair (opensora/models/text/conditioner.py) feeds the MMDiT,
//   t5    T5-XXL v1.1 encoder (google/t5-v1_1-xxl, transformers T5EncoderModel) over the prompt
//         padded to max_length 512 with the pad id and NO attention mask: ids EOS (1) then 511
//         pads (0); its last_hidden_state (1, 512, 4096);
//   clip  CLIP-L's text transformer (openai/clip-vit-large-patch14, CLIPTextModel) over the
//         prompt padded to max_length 77, no mask: ids BOS, EOS, pads; its pooler_output (1, 768),
//         the state at the EOS token (causal attention: the pads after it cannot change it).
// The T5 encoder is vidprobe's one T5 (wan::TextEncoder, as CogVideoX's), the CLIP one
// text::ClipTextModel. No tokenizer is involved: the empty prompt's ids are fixed.
#include <torch/torch.h>

#include <filesystem>

#include "vidprobe/backbones/opensora/config.h"

namespace vidprobe::backbones::opensora {

inline constexpr int kT5Tokens = 512;   // the official t5 embedder's max_length
inline constexpr int kClipTokens = 77;  // the official clip embedder's max_length

struct TextConditioning {
  torch::Tensor t5;    // (1, L, context_in_dim) float32
  torch::Tensor clip;  // (1, vec_in_dim) float32
};

// Reads "t5" and "clip" from a safetensors file, checking their widths; vidprobe::Error names
// the file and the key.
TextConditioning load_text_conditioning(const std::filesystem::path& path,
                                        const MmditConfig& config);

// The published encoder folders, as the official config names them under its ckpts/ directory
// (google/t5-v1_1-xxl, openai/clip-vit-large-patch14): config.json and the weights as one or
// sharded *.safetensors (with their index) or a zip-format pytorch_model.bin. The T5 folder may
// hold a whole T5ForConditionalGeneration (its decoder and lm_head are dropped, as
// T5EncoderModel.from_pretrained does), the CLIP folder a whole CLIPModel (vision tower and
// projections dropped); anything else is loaded strictly. The encoders run on `device` in
// `dtype` (the authors': bf16) and are freed afterwards.
struct TextEncoderFolders {
  std::filesystem::path t5, clip;
};
torch::Tensor empty_prompt_t5(const std::filesystem::path& folder, torch::Device device,
                              torch::Dtype dtype);  // (1, 512, d_model) float32
torch::Tensor empty_prompt_clip(const std::filesystem::path& folder, torch::Device device,
                                torch::Dtype dtype);  // (1, hidden) float32
// Both, checked against the MMDiT's context_in_dim and vec_in_dim (errors name the folder).
TextConditioning encode_empty_prompt(const TextEncoderFolders& folders, const MmditConfig& config,
                                     torch::Device device, torch::Dtype dtype);

}  // namespace vidprobe::backbones::opensora
