#include "vidprobe/backbones/wan/text_encoder.h"

#include <cmath>

#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {
namespace {

std::string layer_prefix(int layer) {
  return "encoder.block." + std::to_string(layer) + ".layer.";
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Wan-Video's T5Encoder names -> transformers' UMT5EncoderModel names.
std::string umt5_key_from_original(const std::string& key) {
  if (key == "token_embedding.weight") return "shared.weight";
  if (key == "norm.weight") return "encoder.final_layer_norm.weight";
  if (!starts_with(key, "blocks.")) return key;
  const auto dot = key.find('.', 7);
  if (dot == std::string::npos) return key;
  const std::string prefix = "encoder.block." + key.substr(7, dot - 7) + ".layer.";
  const std::string rest = key.substr(dot + 1);
  static const std::vector<std::pair<std::string, std::string>> renames = {
      {"norm1.weight", "0.layer_norm.weight"},
      {"attn.q.weight", "0.SelfAttention.q.weight"},
      {"attn.k.weight", "0.SelfAttention.k.weight"},
      {"attn.v.weight", "0.SelfAttention.v.weight"},
      {"attn.o.weight", "0.SelfAttention.o.weight"},
      {"pos_embedding.embedding.weight", "0.SelfAttention.relative_attention_bias.weight"},
      {"norm2.weight", "1.layer_norm.weight"},
      {"ffn.gate.0.weight", "1.DenseReluDense.wi_0.weight"},
      {"ffn.fc1.weight", "1.DenseReluDense.wi_1.weight"},
      {"ffn.fc2.weight", "1.DenseReluDense.wo.weight"}};
  for (const auto& [from, to] : renames)
    if (rest == from) return prefix + to;
  return key;
}

// The T5 layer norm: x / rms(x) times the gain, statistics in float32.
torch::Tensor t5_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const auto xf = x.to(torch::kFloat32);
  return xf * torch::rsqrt(xf.pow(2).mean(-1, true) + eps) * weight;
}

}  // namespace

std::vector<int64_t> empty_prompt_ids() {
  return {kUMT5EosId};
}

TextEncoder::TextEncoder(UMT5Config config, torch::Device device, torch::Dtype dtype)
    : config_(std::move(config)), params_(device, dtype) {
  config_.validate("umT5 config");
  const int64_t d = config_.d_model, inner = config_.heads * config_.d_kv;
  params_.add("shared.weight", {config_.vocab_size, d}, ParamKind::kWeight);
  for (int i = 0; i < config_.layers; ++i) {
    const auto prefix = layer_prefix(i);
    params_.add(prefix + "0.layer_norm.weight", {d}, ParamKind::kScale);
    for (const char* name : {"q", "k", "v"})
      params_.add(prefix + "0.SelfAttention." + name + ".weight", {inner, d}, ParamKind::kWeight);
    params_.add(prefix + "0.SelfAttention.o.weight", {d, inner}, ParamKind::kWeight);
    if (i == 0 || !config_.shared_position_bias)
      params_.add(prefix + "0.SelfAttention.relative_attention_bias.weight",
                  {config_.relative_buckets, config_.heads}, ParamKind::kFloat32);
    params_.add(prefix + "1.layer_norm.weight", {d}, ParamKind::kScale);
    params_.add(prefix + "1.DenseReluDense.wi_0.weight", {config_.d_ff, d}, ParamKind::kWeight);
    params_.add(prefix + "1.DenseReluDense.wi_1.weight", {config_.d_ff, d}, ParamKind::kWeight);
    params_.add(prefix + "1.DenseReluDense.wo.weight", {d, config_.d_ff}, ParamKind::kWeight);
  }
  params_.add("encoder.final_layer_norm.weight", {d}, ParamKind::kScale);
}

void TextEncoder::load(TensorMap&& checkpoint, const std::string& source) {
  TensorMap mapped;
  for (auto& [name, tensor] : checkpoint)
    mapped.emplace(umt5_key_from_original(name), std::move(tensor));
  // transformers ties encoder.embed_tokens to shared; files hold either or both.
  if (auto tied = mapped.find("encoder.embed_tokens.weight"); tied != mapped.end()) {
    if (!mapped.count("shared.weight")) mapped.emplace("shared.weight", tied->second);
    mapped.erase("encoder.embed_tokens.weight");
  }
  params_.load(std::move(mapped), source);
}

torch::Tensor relative_position_buckets(const torch::Tensor& relative_position, int num_buckets,
                                        int max_distance) {
  const int half = num_buckets / 2;  // one half per direction
  const int max_exact = half / 2;
  auto buckets = (relative_position > 0).to(torch::kLong) * half;
  const auto distance = relative_position.abs();
  const auto is_small = distance < max_exact;
  // Logarithmic bins from max_exact to max_distance over the remaining half - max_exact buckets.
  const auto log_ratio = torch::log(distance.to(torch::kFloat32) / max_exact) /
                         std::log(static_cast<double>(max_distance) / max_exact) *
                         (half - max_exact);
  const auto large = torch::clamp_max(max_exact + log_ratio.to(torch::kLong), half - 1);
  return buckets + torch::where(is_small, distance, large);
}

torch::Tensor TextEncoder::attention(int layer, const torch::Tensor& x) const {
  const auto prefix = layer_prefix(layer) + "0.SelfAttention.";
  const int64_t length = x.size(0), heads = config_.heads, d_kv = config_.d_kv;
  const auto dtype = params_.dtype();
  const auto split = [&](const char* name) {
    return torch::linear(x.to(dtype), params_[prefix + name + ".weight"])
        .view({length, heads, d_kv})
        .transpose(0, 1);  // (heads, L, d_kv)
  };
  const auto q = split("q"), k = split("k"), v = split("v");
  const auto positions =
      torch::arange(length, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
  const auto buckets =
      relative_position_buckets(positions.view({1, -1}) - positions.view({-1, 1}),
                                config_.relative_buckets, config_.relative_max_distance);
  // (L, L, heads) -> (heads, L, L); umT5 does not scale the dot products.
  const auto table = layer_prefix(config_.shared_position_bias ? 0 : layer) +
                     "0.SelfAttention.relative_attention_bias.weight";
  const auto bias = torch::embedding(params_[table], buckets).permute({2, 0, 1});
  const auto scores = torch::matmul(q, k.transpose(1, 2)).to(torch::kFloat32) + bias;
  const auto weights = torch::softmax(scores, -1).to(dtype);
  const auto out = torch::matmul(weights, v).transpose(0, 1).reshape({length, heads * d_kv});
  return torch::linear(out, params_[prefix + "o.weight"]).to(torch::kFloat32);
}

torch::Tensor TextEncoder::encode(const torch::Tensor& ids) const {
  require(ids.dim() == 1 && ids.numel() >= 1 && ids.numel() <= kTextLength,
          "umT5 token ids must be a non-empty 1-D sequence of at most " +
              std::to_string(kTextLength) + " ids, got " + c10::str(ids.sizes()));
  const auto cpu_ids = ids.to(torch::kCPU, torch::kLong);
  require(cpu_ids.min().item<int64_t>() >= 0 && cpu_ids.max().item<int64_t>() < config_.vocab_size,
          "umT5 token ids must lie in [0, " + std::to_string(config_.vocab_size) + ")");
  auto x =
      torch::embedding(params_["shared.weight"], cpu_ids.to(params_.device())).to(torch::kFloat32);
  for (int i = 0; i < config_.layers; ++i) {
    const auto prefix = layer_prefix(i);
    const auto& norm1 = params_[prefix + "0.layer_norm.weight"];
    x = x + attention(i, t5_norm(x, norm1, config_.eps));
    const auto h =
        t5_norm(x, params_[prefix + "1.layer_norm.weight"], config_.eps).to(params_.dtype());
    const auto gate =
        torch::gelu(torch::linear(h, params_[prefix + "1.DenseReluDense.wi_0.weight"]), "tanh");
    const auto up = torch::linear(h, params_[prefix + "1.DenseReluDense.wi_1.weight"]);
    x = x + torch::linear(gate * up, params_[prefix + "1.DenseReluDense.wo.weight"])
                .to(torch::kFloat32);
  }
  return t5_norm(x, params_["encoder.final_layer_norm.weight"], config_.eps);
}

torch::Tensor pad_context(const torch::Tensor& hidden, int length) {
  auto h = hidden.dim() == 3 && hidden.size(0) == 1 ? hidden[0] : hidden;
  require(h.dim() == 2 && h.size(0) >= 1 && h.size(0) <= length,
          "prompt embeddings must be (tokens, dim) or (1, tokens, dim) with 1..." +
              std::to_string(length) + " tokens, got " + c10::str(hidden.sizes()));
  auto context = torch::zeros({1, length, h.size(1)}, h.options().dtype(torch::kFloat32));
  context[0].slice(0, 0, h.size(0)).copy_(h);
  return context;
}

torch::Tensor load_text_context(const std::filesystem::path& path, int expected_dim, int length) {
  const auto tensors = load_safetensors(path);
  torch::Tensor context;
  if (tensors.count("context")) {
    context = tensors.at("context");
  } else {
    require(tensors.size() == 1, "text context file '" + path.string() +
                                     "' must hold one tensor or one named 'context'; it holds " +
                                     std::to_string(tensors.size()));
    context = tensors.begin()->second;
  }
  require(context.is_floating_point(),
          "text context in '" + path.string() + "' is not a float tensor");
  require(context.size(-1) == expected_dim,
          "text context in '" + path.string() + "' has width " + std::to_string(context.size(-1)) +
              "; the transformer expects " + std::to_string(expected_dim));
  try {
    return pad_context(context, length);
  } catch (const Error& e) {
    throw Error("text context '" + path.string() + "': " + e.what());
  }
}

}  // namespace vidprobe::backbones::wan
