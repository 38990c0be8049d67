#include "vidprobe/backbones/wan/vae.h"

#include "vidprobe/backbones/wan/layers.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones::wan {
namespace {

torch::Tensor channel_stats(const std::vector<double>& values, const torch::Tensor& like) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat64))
      .view({1, -1, 1, 1, 1})
      .to(like.device(), torch::kFloat32);
}

}  // namespace

torch::Tensor normalize_latents(const VaeConfig& config, const torch::Tensor& mean) {
  return (mean - channel_stats(config.latents_mean, mean).to(mean.dtype())) /
         channel_stats(config.latents_std, mean).to(mean.dtype());
}

torch::Tensor denormalize_latents(const VaeConfig& config, const torch::Tensor& latents) {
  const auto x = latents.to(torch::kFloat32);
  // WanPipeline's exact float32 operations: latents / (1 / std) + mean.
  const auto inverse_std = 1.0 / channel_stats(config.latents_std, x);
  return x / inverse_std + channel_stats(config.latents_mean, x);
}

// ---- encoder ------------------------------------------------------------------------------------

VaeEncoder::VaeEncoder(VaeConfig config, torch::Device device, torch::Dtype dtype)
    : config_(std::move(config)), params_(device, dtype) {
  config_.validate("VAE config");
  std::vector<int> dims{config_.base_dim};
  for (int m : config_.dim_mult) dims.push_back(config_.base_dim * m);
  add_conv3d(params_, "encoder.conv_in", config_.in_channels, dims[0], {3, 3, 3});
  int index = 0;
  const auto next_prefix = [&] { return "encoder.down_blocks." + std::to_string(index++); };
  for (std::size_t stage = 0; stage + 1 < dims.size(); ++stage) {
    int in = dims[stage];
    const int out = dims[stage + 1];
    for (int r = 0; r < config_.num_res_blocks; ++r) {
      const auto prefix = next_prefix();
      add_vae_residual(params_, prefix, in, out);
      down_layers_.push_back({LayerKind::kResidual, prefix});
      in = out;
    }
    if (stage + 1 < config_.dim_mult.size()) {
      const bool temporal = config_.temporal_downsample[stage];
      const auto prefix = next_prefix();
      params_.add(prefix + ".resample.1.weight", {out, out, 3, 3}, ParamKind::kWeight);
      params_.add(prefix + ".resample.1.bias", {out}, ParamKind::kBias);
      if (temporal) add_conv3d(params_, prefix + ".time_conv", out, out, {3, 1, 1});
      down_layers_.push_back(
          {temporal ? LayerKind::kDownsample3d : LayerKind::kDownsample2d, prefix});
    }
  }
  const int top = dims.back();
  add_vae_residual(params_, "encoder.mid_block.resnets.0", top, top);
  add_vae_attention(params_, "encoder.mid_block.attentions.0", top);
  add_vae_residual(params_, "encoder.mid_block.resnets.1", top, top);
  params_.add("encoder.norm_out.gamma", {top, 1, 1, 1}, ParamKind::kScale);
  add_conv3d(params_, "encoder.conv_out", top, 2 * config_.z_dim, {3, 3, 3});
  add_conv3d(params_, "quant_conv", 2 * config_.z_dim, 2 * config_.z_dim, {1, 1, 1});
}

void VaeEncoder::load(TensorMap&& checkpoint, const std::string& source) {
  params_.load(to_diffusers_vae_layout(std::move(checkpoint), config_.num_res_blocks), source,
               is_vae_decoder_key);
}

torch::Tensor VaeEncoder::encode_chunk(const torch::Tensor& chunk, CausalCache& cache) const {
  cache.rewind();
  auto x = causal_conv3d(params_, "encoder.conv_in", chunk, &cache);
  for (const auto& layer : down_layers_)
    x = layer.kind == LayerKind::kResidual
            ? vae_residual(params_, layer.prefix, x, cache)
            : vae_downsample(params_, layer.prefix, x, layer.kind == LayerKind::kDownsample3d,
                             cache);
  x = vae_residual(params_, "encoder.mid_block.resnets.0", x, cache);
  x = vae_attention(params_, "encoder.mid_block.attentions.0", x);
  x = vae_residual(params_, "encoder.mid_block.resnets.1", x, cache);
  return rms_norm_silu_causal_conv3d(params_, "encoder.norm_out", "encoder.conv_out", x, &cache);
}

torch::Tensor VaeEncoder::encode_mean(const torch::Tensor& video) const {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kVaeStage);
  require(video.dim() == 5 && video.size(1) == config_.in_channels,
          "VAE input must be (batch, " + std::to_string(config_.in_channels) +
              ", frames, height, width), got " + c10::str(video.sizes()));
  const int64_t frames = video.size(2);
  require(frames >= 1 && (frames - 1) % kVaeTemporalStride == 0,
          "the WAN VAE needs 4k + 1 frames, got " + std::to_string(frames));
  require(video.size(3) % kVaeSpatialStride == 0 && video.size(4) % kVaeSpatialStride == 0,
          "the WAN VAE needs height and width that are multiples of 8, got " +
              std::to_string(video.size(3)) + "x" + std::to_string(video.size(4)));
  auto x = video.to(params_.device(), params_.dtype());
  if (channels_last_) x = x.contiguous(at::MemoryFormat::ChannelsLast3d);
  const nn::CudnnBenchmarkScope benchmark(x.device(), cudnn_benchmark_);
  CausalCache cache;
  std::vector<torch::Tensor> latents;
  latents.push_back(encode_chunk(x.slice(2, 0, 1), cache));
  for (int64_t start = 1; start < frames; start += kVaeTemporalStride)
    latents.push_back(encode_chunk(x.slice(2, start, start + kVaeTemporalStride), cache));
  const auto moments = causal_conv3d(params_, "quant_conv", torch::cat(latents, 2), nullptr);
  return moments.slice(1, 0, config_.z_dim).to(torch::kFloat32).contiguous();
}

// ---- decoder ------------------------------------------------------------------------------------

VaeDecoder::VaeDecoder(VaeConfig config, torch::Device device, torch::Dtype dtype)
    : config_(std::move(config)), params_(device, dtype) {
  config_.validate("VAE config");
  const int base = config_.decoder_dim();
  // Widths from the bottom up: the deepest stage's twice, then the stages in reverse.
  std::vector<int> dims{base * config_.dim_mult.back()};
  for (auto m = config_.dim_mult.rbegin(); m != config_.dim_mult.rend(); ++m)
    dims.push_back(base * *m);
  add_conv3d(params_, "post_quant_conv", config_.z_dim, config_.z_dim, {1, 1, 1});
  add_conv3d(params_, "decoder.conv_in", config_.z_dim, dims[0], {3, 3, 3});
  add_vae_residual(params_, "decoder.mid_block.resnets.0", dims[0], dims[0]);
  add_vae_attention(params_, "decoder.mid_block.attentions.0", dims[0]);
  add_vae_residual(params_, "decoder.mid_block.resnets.1", dims[0], dims[0]);
  const std::size_t stages = config_.dim_mult.size();
  for (std::size_t i = 0; i < stages; ++i) {
    UpBlock block{"decoder.up_blocks." + std::to_string(i)};
    // Each upsampler halves the width (WAN2.1), so a stage after the first starts at half.
    int in = i > 0 ? dims[i] / 2 : dims[i];
    const int out = dims[i + 1];
    block.resnets = config_.num_res_blocks + 1;
    for (int r = 0; r < block.resnets; ++r) {
      add_vae_residual(params_, block.prefix + ".resnets." + std::to_string(r), in, out);
      in = out;
    }
    if (i + 1 < stages) {
      // Temporal upsampling mirrors the encoder's temporal downsampling, stage for stage.
      const bool temporal = config_.temporal_downsample[stages - 2 - i];
      block.upsample = temporal ? UpBlock::Upsample::k3d : UpBlock::Upsample::k2d;
      const auto prefix = block.prefix + ".upsamplers.0";
      params_.add(prefix + ".resample.1.weight", {out / 2, out, 3, 3}, ParamKind::kWeight);
      params_.add(prefix + ".resample.1.bias", {out / 2}, ParamKind::kBias);
      if (temporal) add_conv3d(params_, prefix + ".time_conv", out, 2 * out, {3, 1, 1});
    }
    up_blocks_.push_back(block);
  }
  params_.add("decoder.norm_out.gamma", {dims.back(), 1, 1, 1}, ParamKind::kScale);
  add_conv3d(params_, "decoder.conv_out", dims.back(), config_.out_channels, {3, 3, 3});
}

void VaeDecoder::load(TensorMap&& checkpoint, const std::string& source) {
  auto tensors = to_diffusers_vae_layout(std::move(checkpoint), config_.num_res_blocks);
  params_.load(std::move(tensors), source,
               [](const std::string& name) { return !is_vae_decoder_key(name); });
}

torch::Tensor VaeDecoder::upsample(const UpBlock& block, const torch::Tensor& input,
                                   CausalCache& cache) const {
  const auto prefix = block.prefix + ".upsamplers.0";
  auto x = input;
  if (block.upsample == UpBlock::Upsample::k3d) {
    auto& slot = cache.slot();
    if (!slot.defined()) {
      // The first chunk passes through (one frame stays one frame); the next chunk's time
      // convolution then sees zeros before it, as the reference's "Rep" marker does.
      const auto s = x.sizes();
      slot = torch::zeros({s[0], s[1], 2, s[3], s[4]}, x.options());
    } else {
      const int64_t b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
      auto y =
          causal_conv3d_with_slot(params_, prefix + ".time_conv", x, slot);  // (b, 2c, t, h, w)
      // The two channel halves are frames 2j and 2j + 1.
      x = y.view({b, 2, c, t, h, w}).permute({0, 2, 3, 1, 4, 5}).reshape({b, c, 2 * t, h, w});
    }
  }
  const int64_t batch = x.size(0);
  auto frames = frames_to_batch(x);
  frames = at::_upsample_nearest_exact2d(frames, {2 * frames.size(2), 2 * frames.size(3)});
  frames = torch::conv2d(frames, params_[prefix + ".resample.1.weight"],
                         params_[prefix + ".resample.1.bias"], /*stride=*/1, /*padding=*/1);
  return batch_to_frames(frames, batch);
}

torch::Tensor VaeDecoder::decode_chunk(const torch::Tensor& chunk, CausalCache& cache) const {
  cache.rewind();
  auto x = causal_conv3d(params_, "decoder.conv_in", chunk, &cache);
  x = vae_residual(params_, "decoder.mid_block.resnets.0", x, cache);
  x = vae_attention(params_, "decoder.mid_block.attentions.0", x);
  x = vae_residual(params_, "decoder.mid_block.resnets.1", x, cache);
  for (const auto& block : up_blocks_) {
    for (int r = 0; r < block.resnets; ++r)
      x = vae_residual(params_, block.prefix + ".resnets." + std::to_string(r), x, cache);
    if (block.upsample != UpBlock::Upsample::kNone) x = upsample(block, x, cache);
  }
  return rms_norm_silu_causal_conv3d(params_, "decoder.norm_out", "decoder.conv_out", x, &cache);
}

torch::Tensor VaeDecoder::decode_unclamped(const torch::Tensor& z) const {
  require(z.dim() == 5 && z.size(1) == config_.z_dim && z.size(2) >= 1,
          "VAE decoder input must be latents (batch, " + std::to_string(config_.z_dim) +
              ", frames, height, width), got " + c10::str(z.sizes()));
  const auto latents = z.to(params_.device(), params_.dtype());
  const nn::CudnnBenchmarkScope benchmark(latents.device(), cudnn_benchmark_);
  const auto x = causal_conv3d(params_, "post_quant_conv", latents, nullptr);
  CausalCache cache;
  std::vector<torch::Tensor> frames;
  for (int64_t i = 0; i < x.size(2); ++i)
    frames.push_back(decode_chunk(x.slice(2, i, i + 1), cache));
  return torch::cat(frames, 2).to(torch::kFloat32);
}

void load_vae(TensorMap&& checkpoint, const std::string& source, VaeEncoder& encoder,
              VaeDecoder& decoder) {
  // Original-layout names first, so post_quant_conv (the original conv2) counts as decoder.
  checkpoint = to_diffusers_vae_layout(std::move(checkpoint), decoder.config().num_res_blocks);
  TensorMap decoder_part;
  for (auto it = checkpoint.begin(); it != checkpoint.end();) {
    if (is_vae_decoder_key(it->first)) {
      decoder_part.emplace(it->first, std::move(it->second));
      it = checkpoint.erase(it);
    } else {
      ++it;
    }
  }
  decoder.load(std::move(decoder_part), source);
  encoder.load(std::move(checkpoint), source);
}

}  // namespace vidprobe::backbones::wan
