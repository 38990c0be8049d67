#include "vidprobe/backbones/cogvideox/transformer.h"

#include <algorithm>

#include "vidprobe/backbones/cogvideox/positions.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones::cogvideox {
namespace {

torch::nn::LayerNormOptions layer_norm(int64_t dim, double eps) {
  return torch::nn::LayerNormOptions({dim}).eps(eps);
}

// (B, 6 * dim) or (B, 2 * dim) modulation -> its chunks as (B, 1, dim).
std::vector<torch::Tensor> modulation_chunks(const torch::Tensor& modulation, int64_t chunks) {
  auto parts = modulation.chunk(chunks, 1);
  for (auto& part : parts) part = part.unsqueeze(1);
  return parts;
}

nn::AttentionOptions attention_options(const TransformerConfig& config) {
  nn::AttentionOptions options;
  options.dim = config.dim();
  options.num_heads = config.heads;
  options.qk_norm = true;
  options.qk_norm_eps = config.qk_norm_eps;
  return options;
}

}  // namespace

torch::Tensor settled_stream(const nn::ResidualUpdate& update) {
  return update.update.defined() ? update.stream + update.gate * update.update : update.stream;
}

StreamModulationImpl::StreamModulationImpl(int64_t conditioning_dim, int64_t dim, double eps)
    : linear(register_module("linear", vidprobe::nn::Linear(conditioning_dim, 6 * dim))),
      norm(register_module("norm", torch::nn::LayerNorm(layer_norm(dim, eps)))) {}

torch::Tensor StreamModulationImpl::modulate(const nn::ResidualUpdate& update,
                                             const torch::Tensor& shift, const torch::Tensor& scale,
                                             const torch::Tensor& into) {
  const auto dtype = update.stream.scalar_type();
  const auto one_plus_scale = 1 + scale.to(torch::kFloat32);
  const auto multiplier = norm->weight.to(torch::kFloat32) * one_plus_scale;
  const auto folded_shift = norm->bias.to(torch::kFloat32) * one_plus_scale + shift;
  if (auto fused =
          nn::residual_norm_on_runtime_kernel(update, nn::NormScale::kModulation, multiplier,
                                              folded_shift, norm->options.eps(), dtype, into))
    return std::move(fused->stream);
  auto stream = settled_stream(update);
  into.copy_(norm(stream) * (1 + scale) + shift);
  return stream;
}

StreamModulationImpl::Modulated StreamModulationImpl::forward(const nn::ResidualUpdate& video,
                                                              const nn::ResidualUpdate& text,
                                                              const torch::Tensor& temb) {
  // Order of the chunks: shift, scale, gate of the video, then of the text.
  const auto m = modulation_chunks(linear(torch::silu(temb)), 6);
  const int64_t text_tokens = text.stream.size(1);
  auto joint =
      torch::empty({video.stream.size(0), text_tokens + video.stream.size(1), video.stream.size(2)},
                   video.stream.options());
  auto video_stream = modulate(video, m[0], m[1], joint.slice(1, text_tokens));
  auto text_stream = modulate(text, m[3], m[4], joint.slice(1, 0, text_tokens));
  return {std::move(joint), m[2], m[5], std::move(video_stream), std::move(text_stream)};
}

BlockImpl::BlockImpl(const TransformerConfig& config)
    : norm1(register_module(
          "norm1", StreamModulation(config.time_embed_dim, config.dim(), config.norm_eps))),
      attn1(register_module("attn1", nn::Attention(attention_options(config)))),
      norm2(register_module(
          "norm2", StreamModulation(config.time_embed_dim, config.dim(), config.norm_eps))),
      ff(register_module("ff",
                         nn::Mlp(config.dim(), config.ff_dim(), config.dim(), nn::Gelu::kTanh))) {}

BlockImpl::Streams BlockImpl::forward(const nn::ResidualUpdate& video,
                                      const nn::ResidualUpdate& text, const torch::Tensor& temb,
                                      const nn::RotaryAngles* rotary) {
  const int64_t text_tokens = text.stream.size(1);
  // Both sublayers see the joint sequence [text, video]; their outputs split back by stream.
  const auto first = norm1->forward(video, text, temb);
  const auto attended = attn1(first.joint, rotary);
  const auto m =
      norm2->forward({first.video_stream, attended.slice(1, text_tokens), first.video_gate},
                     {first.text_stream, attended.slice(1, 0, text_tokens), first.text_gate}, temb);
  const auto fed = ff(m.joint);
  return {{m.video_stream, fed.slice(1, text_tokens), m.video_gate},
          {m.text_stream, fed.slice(1, 0, text_tokens), m.text_gate}};
}

PatchEmbedImpl::PatchEmbedImpl(const TransformerConfig& cfg)
    : config(cfg),
      proj(register_module(
          "proj",
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(cfg.in_channels, cfg.dim(), cfg.patch).stride(cfg.patch)))),
      text_proj(register_module("text_proj", vidprobe::nn::Linear(cfg.text_embed_dim, cfg.dim()))) {
  if (!cfg.learned_positions) return;
  const int64_t rows = cfg.sample_height / cfg.patch, cols = cfg.sample_width / cfg.patch;
  pos_embedding = register_buffer(
      "pos_embedding", sincos_position_table(cfg, cfg.sample_latent_frames(), rows, cols));
}

torch::Tensor PatchEmbedImpl::positions(int64_t frames, int64_t rows, int64_t cols,
                                        const torch::Tensor& tokens) {
  const int64_t sample_rows = config.sample_height / config.patch;
  const int64_t sample_cols = config.sample_width / config.patch;
  if (config.learned_positions) {
    require(rows == sample_rows && cols == sample_cols,
            "CogVideoX with learned positions only runs at its trained latent size " +
                std::to_string(config.sample_height) + "x" + std::to_string(config.sample_width) +
                ", got " + std::to_string(rows * config.patch) + "x" +
                std::to_string(cols * config.patch));
    // At another clip length diffusers falls back to the sin-cos table; so does vidprobe.
    if (frames == config.sample_latent_frames())
      return pos_embedding.to(tokens.device(), tokens.scalar_type());
  }
  return sincos_cache_.get(nn::GridKey::of({frames, rows, cols}, tokens.options()), [&] {
    return sincos_position_table(config, frames, rows, cols)
        .to(tokens.device(), tokens.scalar_type());
  });
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& text, const torch::Tensor& latents) {
  const int64_t batch = latents.size(0), frames = latents.size(1);
  auto video = proj(latents.flatten(0, 1));  // (B * F, dim, H', W')
  const int64_t rows = video.size(2), cols = video.size(3);
  video = video.flatten(2).transpose(1, 2).reshape({batch, frames * rows * cols, config.dim()});
  auto tokens = torch::cat({text_proj(text), video}, 1);
  if (!config.rotary || config.learned_positions) {
    require(text.size(1) == config.max_text_tokens,
            "CogVideoX with absolute positions needs exactly " +
                std::to_string(config.max_text_tokens) +
                " text tokens (the table's text slots), got " + std::to_string(text.size(1)));
    tokens = tokens + positions(frames, rows, cols, tokens);
  }
  return tokens;
}

TimeEmbeddingImpl::TimeEmbeddingImpl(int64_t in, int64_t out)
    : linear_1(register_module("linear_1", vidprobe::nn::Linear(in, out))),
      linear_2(register_module("linear_2", vidprobe::nn::Linear(out, out))) {}

OutputNormImpl::OutputNormImpl(int64_t conditioning_dim, int64_t dim, double eps)
    : linear(register_module("linear", vidprobe::nn::Linear(conditioning_dim, 2 * dim))),
      norm(register_module("norm", torch::nn::LayerNorm(layer_norm(dim, eps)))) {}

torch::Tensor OutputNormImpl::forward(const torch::Tensor& x, const torch::Tensor& temb) {
  const auto m = modulation_chunks(linear(torch::silu(temb)), 2);  // shift, scale
  return norm(x) * (1 + m[1]) + m[0];
}

TransformerImpl::TransformerImpl(const TransformerConfig& cfg) : config(cfg) {
  config.validate("CogVideoX transformer config");
  const int64_t dim = config.dim();
  // Registration order = diffusers' module order.
  patch_embed = register_module("patch_embed", PatchEmbed(config));
  time_embedding = register_module("time_embedding", TimeEmbedding(dim, config.time_embed_dim));
  transformer_blocks = register_module("transformer_blocks", torch::nn::ModuleList());
  for (int i = 0; i < config.layers; ++i) transformer_blocks->push_back(Block(config));
  norm_final =
      register_module("norm_final", torch::nn::LayerNorm(layer_norm(dim, config.norm_eps)));
  norm_out = register_module("norm_out", OutputNorm(config.time_embed_dim, dim, config.norm_eps));
  proj_out = register_module(
      "proj_out", vidprobe::nn::Linear(dim, config.patch * config.patch * config.out_channels));
}

nn::RotaryAngles TransformerImpl::rotary_angles(int64_t text_tokens, int64_t frames, int64_t rows,
                                                int64_t cols, torch::Device device) const {
  const auto positions = rope_positions(config, frames, rows, cols).to(device);
  return nn::with_unrotated_prefix(
      nn::rope_axes_interleaved(positions, config.rope_axis_widths(), config.rope_theta),
      text_tokens);
}

const nn::RotaryAngles& TransformerImpl::prepared_rotary(int64_t text_tokens,
                                                         const std::vector<int64_t>& grid,
                                                         torch::Device device,
                                                         torch::ScalarType dtype) {
  std::vector<int64_t> tokens{text_tokens};
  tokens.insert(tokens.end(), grid.begin(), grid.end());
  return rotary_cache_.get({std::move(tokens), device, dtype}, [&] {
    return nn::in_dtype(rotary_angles(text_tokens, grid[0], grid[1], grid[2], device), dtype);
  });
}

void TransformerImpl::release_kept_tables() {
  rotary_cache_.release();
  patch_embed->release_kept_table();
}

void TransformerImpl::check_inputs(const torch::Tensor& latents, const torch::Tensor& timesteps,
                                   const torch::Tensor& text) const {
  require(latents.dim() == 5 && latents.size(2) == config.in_channels,
          "CogVideoX transformer input must be (batch, frames, " +
              std::to_string(config.in_channels) + ", height, width), got " +
              c10::str(latents.sizes()));
  require(latents.size(3) % config.patch == 0 && latents.size(4) % config.patch == 0,
          "latent size " + c10::str(latents.sizes()) + " is not a multiple of the patch size " +
              std::to_string(config.patch));
  require(timesteps.numel() == latents.size(0),
          "need one timestep per batch item: " + std::to_string(timesteps.numel()) +
              " timesteps for " + std::to_string(latents.size(0)) + " latents");
  require(
      text.dim() == 3 && text.size(0) == latents.size(0) && text.size(2) == config.text_embed_dim,
      "text context must be (batch, tokens, " + std::to_string(config.text_embed_dim) + "), got " +
          c10::str(text.sizes()));
}

TransformerImpl::Outputs TransformerImpl::run(const torch::Tensor& latents,
                                              const torch::Tensor& timesteps,
                                              const torch::Tensor& text,
                                              const std::vector<int>& layers,
                                              bool with_prediction) {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kTransformerStage);
  check_inputs(latents, timesteps, text);
  int last = with_prediction ? config.layers - 1 : -1;
  for (int layer : layers) {
    require(layer >= 0 && layer < config.layers, "layer " + std::to_string(layer) +
                                                     " is outside the transformer's blocks 0.." +
                                                     std::to_string(config.layers - 1));
    last = std::max(last, layer);
  }
  const auto& weight = proj_out->weight;
  const auto temb = time_embedding(
      timestep_sinusoid(nn::to_device_async(timesteps, weight.device()), config.dim())
          .to(weight.scalar_type()));
  const auto tokens = patch_embed(text.to(weight.device(), weight.scalar_type()),
                                  latents.to(weight.device(), weight.scalar_type()));
  const int64_t text_tokens = text.size(1);
  Outputs outputs;
  outputs.grid = {latents.size(1), latents.size(3) / config.patch, latents.size(4) / config.patch};
  const nn::RotaryAngles* rotary =
      config.rotary
          ? &prepared_rotary(text_tokens, outputs.grid, weight.device(), weight.scalar_type())
          : nullptr;
  BlockImpl::Streams streams{{tokens.slice(1, text_tokens)}, {tokens.slice(1, 0, text_tokens)}};
  outputs.video.resize(layers.size());
  outputs.text.resize(layers.size());
  for (int i = 0; i <= last; ++i) {
    streams =
        transformer_blocks[i]->as<BlockImpl>()->forward(streams.video, streams.text, temb, rotary);
    // A kept layer's streams are formed beside the pending updates, which go on unchanged.
    for (std::size_t k = 0; k < layers.size(); ++k)
      if (layers[k] == i) {
        outputs.video[k] = settled_stream(streams.video);
        outputs.text[k] = settled_stream(streams.text);
      }
  }
  if (with_prediction) outputs.prediction = predict(settled_stream(streams.video), temb, latents);
  return outputs;
}

torch::Tensor TransformerImpl::predict(const torch::Tensor& video, const torch::Tensor& temb,
                                       const torch::Tensor& latents) {
  const auto h = proj_out(norm_out(norm_final(video), temb));  // (B, N, p * p * out)
  const int64_t batch = latents.size(0), frames = latents.size(1), p = config.patch;
  const int64_t rows = latents.size(3) / p, cols = latents.size(4) / p;
  // Channels of a token are ordered (out, p_row, p_col).
  return h.reshape({batch, frames, rows, cols, config.out_channels, p, p})
      .permute({0, 1, 4, 2, 5, 3, 6})
      .reshape({batch, frames, config.out_channels, rows * p, cols * p});
}

torch::Tensor TransformerImpl::forward(const torch::Tensor& latents, const torch::Tensor& timesteps,
                                       const torch::Tensor& text) {
  return run(latents, timesteps, text, {}, true).prediction;
}

}  // namespace vidprobe::backbones::cogvideox
