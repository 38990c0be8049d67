#include "vidprobe/backbones/fast3r/model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "vidprobe/core/error.h"
#include "vidprobe/nn/rotary.h"
#include "vidprobe/nn/stage_meter.h"
#include "vidprobe/nn/transformer.h"

namespace vidprobe::backbones::fast3r {
namespace {

nn::BlockOptions block_options(int64_t dim, int64_t heads, double mlp_ratio, double norm_eps) {
  nn::BlockOptions options;
  options.attention.dim = dim;
  options.attention.num_heads = heads;
  options.mlp_ratio = mlp_ratio;
  options.norm_eps = norm_eps;
  options.layer_scale_init = 0.0;  // croco's Block has no LayerScale
  options.fuse_residual_norm = true;
  return options;
}

// croco's Attention.attn_bias_scale: head_dim^-0.5 sqrt(gamma log(137) / log(20)), gamma = 1.
double inference_attention_scale(int64_t head_dim) {
  return std::pow(static_cast<double>(head_dim), -0.5) *
         std::sqrt(std::log(kInferenceSequences) / std::log(kTrainSequences));
}

}  // namespace

torch::Tensor image_index_embedding(const torch::Tensor& indices, int64_t dim) {
  require(dim % 2 == 0,
          "Fast3R image-index table: the width must be even, got " + std::to_string(dim));
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  // omega = 1 / 10000^(arange(D/2) / (D/2)), as numpy computes it (float64).
  const auto omega = 1.0 / torch::pow(10000.0, torch::arange(dim / 2, f64) / (dim / 2.0));
  const auto angles = torch::outer(indices.to(torch::kCPU).to(torch::kFloat64), omega);
  return torch::cat({angles.sin(), angles.cos()}, 1).to(torch::kFloat32);
}

torch::Tensor random_image_indices(int64_t frames, std::uint64_t seed) {
  require(frames >= 1 && frames <= kImageIndices,
          "Fast3R draws distinct image indices below " + std::to_string(kImageIndices) +
              " for the frames of a clip: 1 to " + std::to_string(kImageIndices) + " frames, got " +
              std::to_string(frames));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto drawn = torch::randperm(kImageIndices - 1, generator, torch::kLong);
  return torch::cat({torch::zeros({1}, torch::kLong), drawn.slice(0, 0, frames - 1) + 1});
}

EncoderImpl::EncoderImpl(const EncoderConfig& c) : config(c) {
  patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  proj = patch_embed->register_module(
      "proj", torch::nn::Conv2d(
                  torch::nn::Conv2dOptions(3, c.embed_dim, c.patch_size).stride(c.patch_size)));
  enc_blocks = register_module("enc_blocks", torch::nn::ModuleList());
  for (int i = 0; i < c.depth; ++i)
    enc_blocks->push_back(nn::Block(block_options(c.embed_dim, c.num_heads, c.mlp_ratio, 1e-6)));
  enc_norm = register_module(
      "enc_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embed_dim}).eps(1e-6)));
}

torch::Tensor EncoderImpl::forward(const torch::Tensor& images) {
  const auto patches = proj(images);  // (S, E, h, w)
  const int64_t h = patches.size(2), w = patches.size(3);
  // Contiguous once: as a transposed view, the residual stream would keep its strides through
  // every block (strided residual adds, a copy before each LayerNorm), as in the video ViT.
  auto x = patches.flatten(2).transpose(1, 2).contiguous();
  const auto rope = nn::in_dtype(nn::rope_2d(nn::grid_positions(h, w, images.device()),
                                             config.embed_dim / config.num_heads, config.rope_base),
                                 x.scalar_type());
  for (const auto& block : *enc_blocks) x = block->as<nn::Block>()->forward(x, &rope);
  return enc_norm(x);
}

DecoderImpl::DecoderImpl(const DecoderConfig& c, int64_t encoder_dim) : config(c) {
  decoder_embed = register_module("decoder_embed", vidprobe::nn::Linear(encoder_dim, c.embed_dim));
  dec_blocks = register_module("dec_blocks", torch::nn::ModuleList());
  // The decoder's blocks use nn.LayerNorm's default eps (1e-5); only dec_norm has 1e-6.
  auto options = block_options(c.embed_dim, c.num_heads, c.mlp_ratio, 1e-5);
  if (c.attn_bias_for_inference_enabled)
    options.attention.scale = inference_attention_scale(c.embed_dim / c.num_heads);
  for (int i = 0; i < c.depth; ++i) dec_blocks->push_back(nn::Block(options));
  dec_norm = register_module(
      "dec_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embed_dim}).eps(1e-6)));
}

std::vector<torch::Tensor> DecoderImpl::forward(const torch::Tensor& tokens,
                                                const torch::Tensor& image_pos, int last_map) {
  // x += image_pos with x in the model dtype and the table in float32: PyTorch adds in float32
  // and rounds once. The official code repeats each frame's row over the frame's tokens (191 MB
  // at 81 frames of 288 x 512); broadcast over them instead.
  require(tokens.dim() == 3 && tokens.size(0) == 1 && image_pos.dim() == 2 &&
              tokens.size(1) % image_pos.size(0) == 0,
          "Fast3R decoder: tokens (1, S * P, E) and one image-index row per frame (S, D) expected, "
          "got " +
              c10::str(tokens.sizes()) + " and " + c10::str(image_pos.sizes()));
  auto x = decoder_embed(tokens);
  const auto per_frame = x.view({image_pos.size(0), -1, x.size(-1)});
  x = (per_frame + image_pos.unsqueeze(1)).to(x.scalar_type()).view_as(x);
  std::vector<torch::Tensor> maps;
  for (int i = 0; i < last_map; ++i) {
    x = dec_blocks[static_cast<std::size_t>(i)]->as<nn::Block>()->forward(x);
    maps.push_back(i + 1 == config.depth ? dec_norm(x) : x);
  }
  return maps;
}

Fast3rImpl::Fast3rImpl(Fast3rConfig c) : config(std::move(c)) {
  config.validate("Fast3R");
  encoder = register_module("encoder", Encoder(config.encoder));
  decoder = register_module("decoder", Decoder(config.decoder, config.encoder.embed_dim));
}

std::vector<torch::Tensor> Fast3rImpl::forward(const torch::Tensor& images,
                                               const torch::Tensor& image_indices, int last_map) {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kTransformerStage);
  require(last_map >= 0 && last_map < config.maps(), "Fast3R: map " + std::to_string(last_map) +
                                                         " is outside 0.." +
                                                         std::to_string(config.maps() - 1));
  require(image_indices.dim() == 1 && image_indices.size(0) == images.size(0),
          "Fast3R: one image index per frame expected");
  const auto encoded = encoder(images);  // (S, P, E)
  const int64_t frames = encoded.size(0), tokens = encoded.size(1);
  auto all_frames = encoded.reshape({1, frames * tokens, encoded.size(2)});
  std::vector<torch::Tensor> maps{all_frames};
  if (last_map == 0) return maps;
  const auto image_pos =
      image_index_embedding(image_indices, config.decoder.embed_dim).to(images.device());
  for (auto& map : decoder(all_frames, image_pos, last_map)) maps.push_back(std::move(map));
  return maps;
}

}  // namespace vidprobe::backbones::fast3r
