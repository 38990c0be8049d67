#include "vidprobe/backbones/wan/dit.h"

#include <algorithm>
#include <utility>

#include "vidprobe/backbones/wan/layers.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/residual_norm.h"
#include "vidprobe/nn/rms_norm_rotary.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones::wan {
namespace {

std::string block_prefix(int index) {
  return "blocks." + std::to_string(index) + ".";
}

void add_attention(Parameters& params, const std::string& prefix, int dim) {
  for (const char* projection : {"to_q", "to_k", "to_v", "to_out.0"})
    add_linear(params, prefix + projection, dim, dim);
  params.add(prefix + "norm_q.weight", {dim}, ParamKind::kScale);
  params.add(prefix + "norm_k.weight", {dim}, ParamKind::kScale);
}

}  // namespace

Transformer::Transformer(DiTConfig config, torch::Device device, torch::Dtype dtype)
    : config_(std::move(config)), params_(device, dtype) {
  config_.validate("transformer config");
  const int dim = config_.dim;
  const auto [pt, ph, pw] = config_.patch;
  params_.add("patch_embedding.weight", {dim, config_.in_channels, pt, ph, pw}, ParamKind::kWeight);
  params_.add("patch_embedding.bias", {dim}, ParamKind::kBias);
  // The timestep MLP runs in float32 in the reference (autocast disabled around it).
  add_linear(params_, "condition_embedder.time_embedder.linear_1", config_.freq_dim, dim, true,
             true);
  add_linear(params_, "condition_embedder.time_embedder.linear_2", dim, dim, true, true);
  add_linear(params_, "condition_embedder.time_proj", dim, 6 * dim, true, true);
  add_linear(params_, "condition_embedder.text_embedder.linear_1", config_.text_dim, dim);
  add_linear(params_, "condition_embedder.text_embedder.linear_2", dim, dim);
  for (int i = 0; i < config_.layers; ++i) {
    const auto prefix = block_prefix(i);
    add_attention(params_, prefix + "attn1.", dim);
    add_attention(params_, prefix + "attn2.", dim);
    if (config_.cross_attn_norm) {
      params_.add(prefix + "norm2.weight", {dim}, ParamKind::kScale);
      params_.add(prefix + "norm2.bias", {dim}, ParamKind::kFloat32Bias);
    }
    add_linear(params_, prefix + "ffn.net.0.proj", dim, config_.ffn_dim);
    add_linear(params_, prefix + "ffn.net.2", config_.ffn_dim, dim);
    params_.add(prefix + "scale_shift_table", {1, 6, dim}, ParamKind::kFloat32);
  }
  const int out = config_.out_channels * pt * ph * pw;
  add_linear(params_, "proj_out", dim, out, true, true);  // the reference's head runs in float32
  params_.add("scale_shift_table", {1, 2, dim}, ParamKind::kFloat32);
}

void Transformer::load(TensorMap&& checkpoint, const std::string& source) {
  params_.load(to_diffusers_dit_layout(std::move(checkpoint)), source);
}

torch::Tensor timestep_sinusoid(const torch::Tensor& timesteps, int freq_dim) {
  const int half = freq_dim / 2;
  const auto options = torch::TensorOptions().dtype(torch::kFloat64).device(timesteps.device());
  const auto frequencies =
      torch::pow(10000.0, -torch::arange(half, options) / static_cast<double>(half));
  const auto angles = torch::outer(timesteps.to(torch::kFloat64).flatten(), frequencies);
  return torch::cat({angles.cos(), angles.sin()}, 1).to(torch::kFloat32);
}

torch::Tensor Transformer::embed_context(const torch::Tensor& text_context) const {
  require(text_context.dim() == 3 && text_context.size(2) == config_.text_dim,
          "text context must be (batch, tokens, " + std::to_string(config_.text_dim) + "), got " +
              c10::str(text_context.sizes()));
  auto h = linear(params_, "condition_embedder.text_embedder.linear_1", text_context);
  h = torch::gelu(h, "tanh");
  return linear(params_, "condition_embedder.text_embedder.linear_2", h);
}

Transformer::Conditioning Transformer::condition(const torch::Tensor& timesteps) const {
  const auto sinusoid = timestep_sinusoid(timesteps, config_.freq_dim);
  auto temb = linear(params_, "condition_embedder.time_embedder.linear_1", sinusoid);
  temb = linear(params_, "condition_embedder.time_embedder.linear_2", torch::silu(temb));
  const auto modulation = linear(params_, "condition_embedder.time_proj", torch::silu(temb));
  return {temb, modulation.unflatten(1, {6, config_.dim})};
}

torch::Tensor Transformer::attention(const std::string& prefix, const torch::Tensor& x,
                                     const torch::Tensor& context, const RopeTables* rope) const {
  const int64_t batch = x.size(0), tokens = x.size(1);
  const int heads = config_.heads, head_dim = config_.head_dim();
  const auto& source = context.defined() ? context : x;
  // (B, N, heads, head_dim) queries or keys: the projection, its RMSNorm over every head, and in
  // self-attention the rotary embedding (one pass with the norm where a runtime kernel applies).
  const auto normed_heads = [&](const char* projection, const char* norm,
                                const torch::Tensor& input) {
    const auto y = linear(params_, prefix + projection, input);
    if (rope)
      return nn::rms_norm_rotate_pairs(y, params_[prefix + norm + ".weight"], config_.eps,
                                       rope->rotation);
    return rms_norm(params_, prefix + norm, y, config_.eps)
        .view({batch, input.size(1), heads, head_dim});
  };
  const auto q = normed_heads("to_q", "norm_q", x);
  const auto k = normed_heads("to_k", "norm_k", source);
  const auto v =
      linear(params_, prefix + "to_v", source).view({batch, source.size(1), heads, head_dim});
  auto out = nn::attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2));
  out = out.transpose(1, 2).reshape({batch, tokens, heads * head_dim});
  return linear(params_, prefix + "to_out.0", out);
}

nn::ResidualUpdate Transformer::block(int index, nn::ResidualUpdate incoming,
                                      const torch::Tensor& modulation, const torch::Tensor& context,
                                      const RopeTables& rope) const {
  const auto prefix = block_prefix(index);
  const auto mod = (params_[prefix + "scale_shift_table"] + modulation).chunk(6, 1);
  const auto &shift = mod[0], &scale = mod[1], &gate = mod[2];
  const auto &ffn_shift = mod[3], &ffn_scale = mod[4], &ffn_gate = mod[5];
  const auto dtype = params_.dtype();
  const double eps = config_.eps;

  // Each norm reads the stream that the branch before it has just updated: the update, the norm,
  // the modulation and the cast are one pass where a runtime kernel applies (nn/residual_norm.h),
  // else libtorch's product, sum, LayerNorm, product and sum, each in float32. Each branch's input
  // and output are released once read (std::exchange, std::move): 0.34 GB each at the paper's clip.
  auto normed = nn::modulated_layer_norm(incoming, 1 + scale, shift, eps, dtype);
  incoming = {};
  auto attended = attention(prefix + "attn1.", std::exchange(normed.normed, {}), {}, &rope);
  if (config_.cross_attn_norm) {
    normed = nn::affine_layer_norm({normed.stream, std::move(attended), gate},
                                   params_[prefix + "norm2.weight"], params_[prefix + "norm2.bias"],
                                   eps, dtype);
  } else {
    const auto stream = nn::updated_stream({normed.stream, std::move(attended), gate});
    normed = {stream, stream.to(dtype)};
  }
  auto crossed = attention(prefix + "attn2.", std::exchange(normed.normed, {}), context, nullptr);
  normed = nn::modulated_layer_norm({normed.stream, std::move(crossed)}, 1 + ffn_scale, ffn_shift,
                                    eps, dtype);
  const auto hidden =
      linear_gelu_tanh(params_, prefix + "ffn.net.0.proj", std::exchange(normed.normed, {}));
  return {normed.stream, linear(params_, prefix + "ffn.net.2", hidden), ffn_gate};
}

torch::Tensor Transformer::head(const torch::Tensor& x, const torch::Tensor& temb,
                                const std::vector<int64_t>& grid) const {
  const auto mod = (params_["scale_shift_table"] + temb.unsqueeze(1)).chunk(2, 1);
  auto h = layer_norm_f32(x, config_.eps) * (1 + mod[1]) + mod[0];
  h = linear(params_, "proj_out", h);  // (B, tokens, pt * ph * pw * out)
  const auto [pt, ph, pw] = config_.patch;
  const int64_t batch = x.size(0);
  h = h.reshape({batch, grid[0], grid[1], grid[2], pt, ph, pw, config_.out_channels});
  h = h.permute({0, 7, 1, 4, 2, 5, 3, 6});
  return h.reshape({batch, config_.out_channels, grid[0] * pt, grid[1] * ph, grid[2] * pw});
}

Transformer::Outputs Transformer::run(const torch::Tensor& latents, const torch::Tensor& timesteps,
                                      const torch::Tensor& embedded_context,
                                      const std::vector<int>& layers, bool with_prediction) const {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kTransformerStage);
  require(latents.dim() == 5 && latents.size(1) == config_.in_channels,
          "transformer input must be (batch, " + std::to_string(config_.in_channels) +
              ", frames, height, width), got " + c10::str(latents.sizes()));
  const auto [pt, ph, pw] = config_.patch;
  require(latents.size(2) % pt == 0 && latents.size(3) % ph == 0 && latents.size(4) % pw == 0,
          "latent size " + c10::str(latents.sizes()) + " is not a multiple of the patch size");
  require(timesteps.numel() == latents.size(0),
          "need one timestep per batch item: " + std::to_string(timesteps.numel()) +
              " timesteps for " + std::to_string(latents.size(0)) + " latents");
  require(embedded_context.dim() == 3 && embedded_context.size(0) == latents.size(0) &&
              embedded_context.size(2) == config_.dim,
          "embedded context must be (batch, tokens, " + std::to_string(config_.dim) + "), got " +
              c10::str(embedded_context.sizes()));
  int last = with_prediction ? config_.layers - 1 : -1;
  for (int layer : layers) {
    require(layer >= 0 && layer < config_.layers, "layer " + std::to_string(layer) +
                                                      " is outside the transformer's blocks 0.." +
                                                      std::to_string(config_.layers - 1));
    last = std::max(last, layer);
  }

  Outputs outputs;
  outputs.grid = {latents.size(2) / pt, latents.size(3) / ph, latents.size(4) / pw};
  const auto& weight = params_["patch_embedding.weight"];
  auto x = torch::conv3d(latents.to(weight.scalar_type()), weight, params_["patch_embedding.bias"],
                         {pt, ph, pw});
  x = x.flatten(2).transpose(1, 2).to(torch::kFloat32).contiguous();  // (B, tokens, dim)
  const auto& rope = kept_rope_tables(outputs.grid, x.device());
  const auto conditioning = condition(nn::to_device_async(timesteps, x.device()));
  outputs.blocks.resize(layers.size());
  nn::ResidualUpdate pending{std::move(x)};
  for (int i = 0; i <= last; ++i) {
    pending = block(i, std::move(pending), conditioning.modulation, embedded_context, rope);
    for (std::size_t k = 0; k < layers.size(); ++k)
      if (layers[k] == i) outputs.blocks[k] = nn::settle(pending);
  }
  if (with_prediction)
    outputs.prediction = head(nn::settle(pending), conditioning.temb, outputs.grid);
  return outputs;
}

const RopeTables& Transformer::kept_rope_tables(const std::vector<int64_t>& grid,
                                                torch::Device device) const {
  // float32 whatever the weights' dtype: the rotation is applied in float32 (nn::rotate_pairs).
  return rope_cache_.get({grid, device, torch::kFloat32}, [&] {
    return rope_tables(config_.head_dim(), grid[0], grid[1], grid[2], config_.rope_max_seq_len,
                       device);
  });
}

torch::Tensor Transformer::forward(const torch::Tensor& latents, const torch::Tensor& timesteps,
                                   const torch::Tensor& text_context) const {
  return run(latents, timesteps, embed_context(text_context), {}, true).prediction;
}

double transformer_flops(const DiTConfig& config, int64_t tokens, int64_t context_tokens,
                         int blocks) {
  const double n = static_cast<double>(tokens), l = static_cast<double>(context_tokens);
  const double d = config.dim, f = config.ffn_dim;
  const double self_attention = 4 * 2 * n * d * d + 2 * 2 * n * n * d;  // q, k, v, o; QK^T, AV
  const double cross_attention = 2 * 2 * n * d * d + 2 * 2 * l * d * d + 2 * 2 * n * l * d;
  const double ffn = 2 * 2 * n * d * f;
  return blocks * (self_attention + cross_attention + ffn);
}

torch::Tensor tokens_to_maps(const torch::Tensor& tokens, const std::vector<int64_t>& grid) {
  require(grid.size() == 3 && tokens.dim() == 3 && tokens.size(1) == grid[0] * grid[1] * grid[2],
          "cannot reshape tokens " + c10::str(tokens.sizes()) + " to the grid " + c10::str(grid));
  return tokens.view({tokens.size(0), grid[0], grid[1], grid[2], tokens.size(2)})
      .permute({0, 1, 4, 2, 3});
}

}  // namespace vidprobe::backbones::wan
