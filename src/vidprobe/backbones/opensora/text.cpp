#include "vidprobe/backbones/opensora/text.h"

#include <algorithm>
#include <string>
#include <vector>

#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/text/clip_text.h"
#include "vidprobe/backbones/wan/text_encoder.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::opensora {
namespace fs = std::filesystem;
namespace {

torch::Tensor text_tensor(const TensorMap& tensors, const std::string& key, int64_t width,
                          const fs::path& path) {
  const auto it = tensors.find(key);
  require(it != tensors.end(), "text conditioning '" + path.string() + "' has no '" + key +
                                   "' tensor (it needs 't5' and 'clip', docs/backbones.md)");
  auto t = it->second.to(torch::kFloat32);
  require(t.size(-1) == width && t.numel() % width == 0,
          "text conditioning '" + path.string() + "': '" + key + "' must be " +
              std::to_string(width) + " wide, got " + c10::str(t.sizes()));
  return t;
}

fs::path config_of(const fs::path& folder, const std::string& what) {
  require(fs::is_directory(folder),
          "Open-Sora's " + what + " text encoder folder '" + folder.string() +
              "' does not exist (give --backbone-opt t5=DIR and clip=DIR, the official ckpts/ "
              "layout under --weights, text=FILE or empty_prompt.safetensors beside the "
              "weights: docs/backbones.md)");
  const auto config = folder / "config.json";
  require(fs::exists(config), what + " folder '" + folder.string() + "' has no config.json");
  return config;
}

// The folder's weights: *.safetensors (one, or shards with their index) or pytorch_model.bin.
TensorMap weights_of(const fs::path& folder, const std::string& what) {
  bool safetensors = false;
  for (const auto& entry : fs::directory_iterator(folder))
    safetensors = safetensors || entry.path().extension() == ".safetensors";
  if (safetensors) return load_checkpoint(folder);
  const auto bin = folder / "pytorch_model.bin";
  require(fs::exists(bin), what + " folder '" + folder.string() +
                               "' has neither *.safetensors nor pytorch_model.bin");
  return read_checkpoint(bin.string(), what);
}

// T5EncoderModel.from_pretrained of a T5ForConditionalGeneration checkpoint drops these.
void drop_decoder(TensorMap& tensors) {
  std::erase_if(tensors, [](const auto& entry) {
    return entry.first.starts_with("decoder.") || entry.first == "lm_head.weight";
  });
}

}  // namespace

TextConditioning load_text_conditioning(const fs::path& path, const MmditConfig& config) {
  const auto tensors = load_safetensors(path);
  TextConditioning text;
  text.t5 = text_tensor(tensors, "t5", config.context_in_dim, path)
                .reshape({1, -1, config.context_in_dim});
  text.clip = text_tensor(tensors, "clip", config.vec_in_dim, path);
  require(text.clip.numel() == config.vec_in_dim,
          "text conditioning '" + path.string() + "': 'clip' must be one pooled vector of " +
              std::to_string(config.vec_in_dim) + ", got " + c10::str(text.clip.sizes()));
  text.clip = text.clip.reshape({1, config.vec_in_dim});
  return text;
}

torch::Tensor empty_prompt_t5(const fs::path& folder, torch::Device device, torch::Dtype dtype) {
  const auto config_file = config_of(folder, "T5");
  const auto config = wan::umt5_config_from_json(read_json_file(config_file), config_file.string());
  require(config.shared_position_bias, "'" + config_file.string() +
                                           "' is not a T5 (v1.1) encoder (model_type \"t5\"), "
                                           "Open-Sora's text encoder google/t5-v1_1-xxl");
  wan::TextEncoder encoder(config, device, dtype);
  auto weights = weights_of(folder, "T5");
  drop_decoder(weights);
  encoder.load(std::move(weights), folder.string());
  // EOS, then the tokenizer's pad id 0 up to max_length; T5 sees all of them (no mask).
  std::vector<int64_t> ids(kT5Tokens, 0);
  ids[0] = wan::kUMT5EosId;
  torch::NoGradGuard no_grad;
  return encoder.encode(torch::tensor(ids, torch::kLong)).unsqueeze(0).to(torch::kCPU);
}

torch::Tensor empty_prompt_clip(const fs::path& folder, torch::Device device, torch::Dtype dtype) {
  const auto config_file = config_of(folder, "CLIP");
  text::ClipTextModel model(
      text::clip_text_config_from_json(read_json_file(config_file), config_file.string()));
  text::load_clip_text(model, weights_of(folder, "CLIP"), folder.string());
  model->to(device, dtype);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor(text::clip_empty_prompt_ids(kClipTokens), torch::kLong);
  return model->forward(ids.unsqueeze(0)).pooler_output.to(torch::kCPU, torch::kFloat32);
}

TextConditioning encode_empty_prompt(const TextEncoderFolders& folders, const MmditConfig& config,
                                     torch::Device device, torch::Dtype dtype) {
  TextConditioning text{empty_prompt_t5(folders.t5, device, dtype),
                        empty_prompt_clip(folders.clip, device, dtype)};
  require(text.t5.size(2) == config.context_in_dim,
          "T5 folder '" + folders.t5.string() + "' gives " + std::to_string(text.t5.size(2)) +
              "-wide states, the MMDiT reads context_in_dim " +
              std::to_string(config.context_in_dim));
  require(text.clip.size(1) == config.vec_in_dim, "CLIP folder '" + folders.clip.string() +
                                                      "' gives a " +
                                                      std::to_string(text.clip.size(1)) +
                                                      "-wide pooled vector, the MMDiT reads "
                                                      "vec_in_dim " +
                                                      std::to_string(config.vec_in_dim));
  return text;
}

}  // namespace vidprobe::backbones::opensora
