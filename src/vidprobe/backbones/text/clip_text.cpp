#include "vidprobe/backbones/text/clip_text.h"

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"

namespace vidprobe::backbones::text {
namespace {

constexpr const char* kArchitecture = "CLIP text transformer";

nn::BlockOptions block_options(const ClipTextConfig& c) {
  nn::BlockOptions options;
  options.attention.dim = c.hidden_size;
  options.attention.num_heads = c.num_attention_heads;
  options.attention.causal = true;
  options.mlp_ratio = static_cast<double>(c.intermediate_size) / c.hidden_size;
  options.norm_eps = c.layer_norm_eps;
  options.gelu = c.hidden_act;
  return options;
}

// transformers' names -> nn::Block's (q, k and v fused into attn.qkv as nn::Attention holds them).
void map_keys(TensorMap& t, const ClipTextConfig& c) {
  rename_key(t, "embeddings.token_embedding.weight", "token_embedding.weight");
  rename_key(t, "embeddings.position_embedding.weight", "position_embedding.weight");
  for (const std::string part : {"weight", "bias"}) {
    rename_key(t, "final_layer_norm." + part, "final_layer_norm." + part);
    for (int i = 0; i < c.num_hidden_layers; ++i) {
      const auto hub = "encoder.layers." + std::to_string(i) + ".";
      const auto own = "blocks." + std::to_string(i) + ".";
      fuse_keys(t,
                {hub + "self_attn.q_proj." + part, hub + "self_attn.k_proj." + part,
                 hub + "self_attn.v_proj." + part},
                own + "attn.qkv." + part);
      rename_key(t, hub + "self_attn.out_proj." + part, own + "attn.proj." + part);
      rename_key(t, hub + "layer_norm1." + part, own + "norm1." + part);
      rename_key(t, hub + "layer_norm2." + part, own + "norm2." + part);
      rename_key(t, hub + "mlp.fc1." + part, own + "mlp.fc1." + part);
      rename_key(t, hub + "mlp.fc2." + part, own + "mlp.fc2." + part);
    }
  }
}

}  // namespace

std::vector<int64_t> clip_empty_prompt_ids(int length, int64_t pad_id) {
  require(length >= 2,
          "the CLIP prompt length must hold BOS and EOS, got " + std::to_string(length));
  std::vector<int64_t> ids(static_cast<std::size_t>(length), pad_id);
  ids[0] = kClipBosId;
  ids[1] = kClipEosId;
  return ids;
}

ClipTextModelImpl::ClipTextModelImpl(ClipTextConfig config) : config_(std::move(config)) {
  config_.validate("CLIP text config");
  token_embedding = register_module("token_embedding",
                                    torch::nn::Embedding(config_.vocab_size, config_.hidden_size));
  position_embedding =
      register_module("position_embedding",
                      torch::nn::Embedding(config_.max_position_embeddings, config_.hidden_size));
  const auto options = block_options(config_);
  require(nn::feed_forward_width(options) == config_.intermediate_size,
          "CLIP text config: intermediate_size " + std::to_string(config_.intermediate_size) +
              " is not a width the block's MLP ratio gives");
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < config_.num_hidden_layers; ++i) blocks->push_back(nn::Block(options));
  final_layer_norm = register_module(
      "final_layer_norm",
      torch::nn::LayerNorm(
          torch::nn::LayerNormOptions({config_.hidden_size}).eps(config_.layer_norm_eps)));
}

ClipTextOutput ClipTextModelImpl::forward(const torch::Tensor& ids) {
  require(ids.dim() == 2 && ids.size(1) >= 1 && ids.size(1) <= config_.max_position_embeddings,
          "CLIP text model: ids must be (B, L) with 1 <= L <= " +
              std::to_string(config_.max_position_embeddings) + ", got " + c10::str(ids.sizes()));
  const auto device = token_embedding->weight.device();
  const auto tokens = ids.to(device, torch::kLong);
  require(tokens.min().item<int64_t>() >= 0 && tokens.max().item<int64_t>() < config_.vocab_size,
          "CLIP text model: token ids must lie in [0, " + std::to_string(config_.vocab_size) + ")");
  const auto positions = torch::arange(tokens.size(1), tokens.options());
  auto x = token_embedding(tokens) + position_embedding(positions).unsqueeze(0);
  for (const auto& block : *blocks) x = block->as<nn::Block>()->forward(x);
  x = final_layer_norm(x);
  // The legacy eos_token_id 2 takes the largest id (EOS is the vocabulary's last token).
  const auto eos = config_.eos_token_id == 2
                       ? tokens.argmax(-1)
                       : (tokens == config_.eos_token_id).to(torch::kInt).argmax(-1);
  const auto rows = torch::arange(tokens.size(0), tokens.options());
  return {x, x.index({rows, eos})};
}

void load_clip_text(ClipTextModel& model, TensorMap checkpoint, const std::string& source) {
  auto tensors = select_backbone_tensors(
      std::move(checkpoint),
      {.wrapper_prefixes = {"text_model."},
       .ignored_prefixes = {"vision_model.", "visual_projection.", "text_projection.",
                            "logit_scale", "embeddings.position_ids"}});
  try {
    map_keys(tensors, model->config());
  } catch (const Error& e) {
    throw Error("'" + source + "' is not a " + kArchitecture +
                " of this configuration: " + e.what());
  }
  load_module_strict(*model, tensors, source, kArchitecture);
}

}  // namespace vidprobe::backbones::text
