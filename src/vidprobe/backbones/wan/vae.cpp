#include "vidprobe/backbones/wan/vae.h"

#include <cmath>

#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {
namespace {

// Frames a causal 3x3x3 convolution carries over from the previous chunk.
constexpr int64_t kCachedFrames = 2;

void add_conv3d(Parameters& params, const std::string& prefix, int64_t in, int64_t out,
                std::vector<int64_t> kernel) {
  params.add(prefix + ".weight", {out, in, kernel[0], kernel[1], kernel[2]}, ParamKind::kWeight);
  params.add(prefix + ".bias", {out}, ParamKind::kBias);
}

void add_residual(Parameters& params, const std::string& prefix, int in, int out) {
  params.add(prefix + ".norm1.gamma", {in, 1, 1, 1}, ParamKind::kScale);
  add_conv3d(params, prefix + ".conv1", in, out, {3, 3, 3});
  params.add(prefix + ".norm2.gamma", {out, 1, 1, 1}, ParamKind::kScale);
  add_conv3d(params, prefix + ".conv2", out, out, {3, 3, 3});
  if (in != out) add_conv3d(params, prefix + ".conv_shortcut", in, out, {1, 1, 1});
}

// (B, C, T, H, W) <-> (B * T, C, H, W) for the per-frame 2D operations.
torch::Tensor frames_to_batch(const torch::Tensor& x) {
  return x.permute({0, 2, 1, 3, 4})
      .reshape({x.size(0) * x.size(2), x.size(1), x.size(3), x.size(4)});
}
torch::Tensor batch_to_frames(const torch::Tensor& x, int64_t batch) {
  return x.view({batch, x.size(0) / batch, x.size(1), x.size(2), x.size(3)})
      .permute({0, 2, 1, 3, 4});
}

}  // namespace

// One slot per cached convolution, visited in the same order for every chunk.
struct VaeEncoder::Cache {
  std::vector<torch::Tensor> slots;
  std::size_t next = 0;
  torch::Tensor& slot() {
    if (next == slots.size()) slots.emplace_back();
    return slots[next++];
  }
};

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
      add_residual(params_, prefix, in, out);
      down_layers_.push_back({LayerKind::kResidual, prefix, in, out});
      in = out;
    }
    if (stage + 1 < config_.dim_mult.size()) {
      const bool temporal = config_.temporal_downsample[stage];
      const auto prefix = next_prefix();
      params_.add(prefix + ".resample.1.weight", {out, out, 3, 3}, ParamKind::kWeight);
      params_.add(prefix + ".resample.1.bias", {out}, ParamKind::kBias);
      if (temporal) add_conv3d(params_, prefix + ".time_conv", out, out, {3, 1, 1});
      down_layers_.push_back(
          {temporal ? LayerKind::kDownsample3d : LayerKind::kDownsample2d, prefix, out, out});
    }
  }
  top_dim_ = dims.back();
  add_residual(params_, "encoder.mid_block.resnets.0", top_dim_, top_dim_);
  params_.add("encoder.mid_block.attentions.0.norm.gamma", {top_dim_, 1, 1}, ParamKind::kScale);
  params_.add("encoder.mid_block.attentions.0.to_qkv.weight", {3 * top_dim_, top_dim_, 1, 1},
              ParamKind::kWeight);
  params_.add("encoder.mid_block.attentions.0.to_qkv.bias", {3 * top_dim_}, ParamKind::kBias);
  params_.add("encoder.mid_block.attentions.0.proj.weight", {top_dim_, top_dim_, 1, 1},
              ParamKind::kWeight);
  params_.add("encoder.mid_block.attentions.0.proj.bias", {top_dim_}, ParamKind::kBias);
  add_residual(params_, "encoder.mid_block.resnets.1", top_dim_, top_dim_);
  params_.add("encoder.norm_out.gamma", {top_dim_, 1, 1, 1}, ParamKind::kScale);
  add_conv3d(params_, "encoder.conv_out", top_dim_, 2 * config_.z_dim, {3, 3, 3});
  add_conv3d(params_, "quant_conv", 2 * config_.z_dim, 2 * config_.z_dim, {1, 1, 1});
}

void VaeEncoder::load(TensorMap&& checkpoint, const std::string& source) {
  params_.load(to_diffusers_vae_layout(std::move(checkpoint)), source, is_vae_decoder_key);
}

torch::Tensor VaeEncoder::rms_norm(const std::string& prefix, const torch::Tensor& x) const {
  // F.normalize over channels, times sqrt(C) and the gain: an RMSNorm without epsilon inside.
  const auto norm = x.norm(2, /*dim=*/{1}, /*keepdim=*/true).clamp_min(1e-12);
  return x / norm * std::sqrt(static_cast<double>(x.size(1))) * params_[prefix + ".gamma"];
}

torch::Tensor VaeEncoder::causal_conv(const std::string& prefix, const torch::Tensor& x,
                                      Cache* cache) const {
  const auto& weight = params_[prefix + ".weight"];
  const int64_t time_pad = weight.size(2) - 1, space_pad = weight.size(3) / 2;
  auto input = x;
  int64_t pad = time_pad;
  if (cache && time_pad > 0) {
    auto& slot = cache->slot();
    auto keep = x.slice(2, std::max<int64_t>(0, x.size(2) - kCachedFrames));
    if (keep.size(2) < kCachedFrames && slot.defined())
      keep = torch::cat({slot.slice(2, slot.size(2) - 1), keep}, 2);
    if (slot.defined()) {
      input = torch::cat({slot, x}, 2);
      pad -= slot.size(2);
    }
    slot = keep.clone();
  }
  input = torch::constant_pad_nd(input, {space_pad, space_pad, space_pad, space_pad, pad, 0});
  return torch::conv3d(input, weight, params_[prefix + ".bias"]);
}

torch::Tensor VaeEncoder::residual(const std::string& prefix, const torch::Tensor& x,
                                   bool has_shortcut, Cache& cache) const {
  const auto shortcut = has_shortcut ? causal_conv(prefix + ".conv_shortcut", x, nullptr) : x;
  auto h = causal_conv(prefix + ".conv1", torch::silu(rms_norm(prefix + ".norm1", x)), &cache);
  h = causal_conv(prefix + ".conv2", torch::silu(rms_norm(prefix + ".norm2", h)), &cache);
  return h + shortcut;
}

torch::Tensor VaeEncoder::downsample(const Layer& layer, const torch::Tensor& x,
                                     Cache& cache) const {
  const int64_t batch = x.size(0);
  // Zero padding on the right and bottom only, then a stride-2 3x3 convolution per frame.
  auto frames = torch::constant_pad_nd(frames_to_batch(x), {0, 1, 0, 1});
  frames = torch::conv2d(frames, params_[layer.prefix + ".resample.1.weight"],
                         params_[layer.prefix + ".resample.1.bias"], /*stride=*/2);
  auto y = batch_to_frames(frames, batch);
  if (layer.kind != LayerKind::kDownsample3d) return y;
  auto& slot = cache.slot();
  if (!slot.defined()) {  // the first chunk passes through and is remembered
    slot = y.clone();
    return y;
  }
  const auto keep = y.slice(2, y.size(2) - 1).clone();
  y = torch::conv3d(torch::cat({slot.slice(2, slot.size(2) - 1), y}, 2),
                    params_[layer.prefix + ".time_conv.weight"],
                    params_[layer.prefix + ".time_conv.bias"],
                    /*stride=*/{2, 1, 1});
  slot = keep;
  return y;
}

torch::Tensor VaeEncoder::attention(const std::string& prefix, const torch::Tensor& x) const {
  // Single-head self-attention over the pixels of each frame (no temporal mixing).
  const int64_t batch = x.size(0), channels = x.size(1);
  auto frames = frames_to_batch(x);
  const int64_t n = frames.size(0), height = frames.size(2), width = frames.size(3);
  auto h = rms_norm(prefix + ".norm", frames);
  auto qkv = torch::conv2d(h, params_[prefix + ".to_qkv.weight"], params_[prefix + ".to_qkv.bias"]);
  qkv = qkv.reshape({n, 1, 3 * channels, height * width}).permute({0, 1, 3, 2}).contiguous();
  const auto parts = qkv.chunk(3, -1);
  auto out = at::scaled_dot_product_attention(parts[0], parts[1], parts[2]);  // (n, 1, HW, C)
  out = out.squeeze(1).permute({0, 2, 1}).reshape({n, channels, height, width});
  out = torch::conv2d(out, params_[prefix + ".proj.weight"], params_[prefix + ".proj.bias"]);
  return batch_to_frames(out, batch) + x;
}

torch::Tensor VaeEncoder::encode_chunk(const torch::Tensor& chunk, Cache& cache) const {
  cache.next = 0;
  auto x = causal_conv("encoder.conv_in", chunk, &cache);
  for (const auto& layer : down_layers_)
    x = layer.kind == LayerKind::kResidual ? residual(layer.prefix, x, layer.in != layer.out, cache)
                                           : downsample(layer, x, cache);
  x = residual("encoder.mid_block.resnets.0", x, false, cache);
  x = attention("encoder.mid_block.attentions.0", x);
  x = residual("encoder.mid_block.resnets.1", x, false, cache);
  x = torch::silu(rms_norm("encoder.norm_out", x));
  return causal_conv("encoder.conv_out", x, &cache);
}

torch::Tensor VaeEncoder::encode_mean(const torch::Tensor& video) const {
  require(video.dim() == 5 && video.size(1) == config_.in_channels,
          "VAE input must be (batch, " + std::to_string(config_.in_channels) +
              ", frames, height, width), got " + c10::str(video.sizes()));
  const int64_t frames = video.size(2);
  require(frames >= 1 && (frames - 1) % kVaeTemporalStride == 0,
          "the WAN VAE needs 4k + 1 frames, got " + std::to_string(frames));
  require(video.size(3) % kVaeSpatialStride == 0 && video.size(4) % kVaeSpatialStride == 0,
          "the WAN VAE needs height and width that are multiples of 8, got " +
              std::to_string(video.size(3)) + "x" + std::to_string(video.size(4)));
  const auto x = video.to(params_.device(), params_.dtype());
  // Restores the process-wide cuDNN setting on every exit path.
  struct BenchmarkGuard {
    bool previous = at::globalContext().benchmarkCuDNN();
    ~BenchmarkGuard() { at::globalContext().setBenchmarkCuDNN(previous); }
  } guard;
  if (x.is_cuda() && cudnn_benchmark_) at::globalContext().setBenchmarkCuDNN(true);
  Cache cache;
  std::vector<torch::Tensor> latents;
  latents.push_back(encode_chunk(x.slice(2, 0, 1), cache));
  for (int64_t start = 1; start < frames; start += kVaeTemporalStride)
    latents.push_back(encode_chunk(x.slice(2, start, start + kVaeTemporalStride), cache));
  const auto moments = causal_conv("quant_conv", torch::cat(latents, 2), nullptr);
  return moments.slice(1, 0, config_.z_dim).to(torch::kFloat32);
}

torch::Tensor VaeEncoder::normalize(const torch::Tensor& mean) const {
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  const auto latents_mean = torch::tensor(config_.latents_mean, options).view({1, -1, 1, 1, 1});
  const auto latents_std = torch::tensor(config_.latents_std, options).view({1, -1, 1, 1, 1});
  return (mean - latents_mean.to(mean.options())) / latents_std.to(mean.options());
}

}  // namespace vidprobe::backbones::wan
