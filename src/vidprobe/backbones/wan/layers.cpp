#include "vidprobe/backbones/wan/layers.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "vidprobe/core/error.h"
#include "vidprobe/nn/linear.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones::wan {

void add_linear(Parameters& params, const std::string& prefix, int64_t in, int64_t out, bool bias,
                bool float32) {
  params.add(prefix + ".weight", {out, in}, float32 ? ParamKind::kFloat32 : ParamKind::kWeight);
  if (bias)
    params.add(prefix + ".bias", {out}, float32 ? ParamKind::kFloat32Bias : ParamKind::kBias);
}

torch::Tensor linear(const Parameters& params, const std::string& prefix, const torch::Tensor& x,
                     bool bias) {
  const auto& weight = params[prefix + ".weight"];
  nn::count_linear_flops(x, weight.size(0));
  if (!bias) return torch::linear(x.to(weight.scalar_type()), weight);
  return torch::linear(x.to(weight.scalar_type()), weight, params[prefix + ".bias"]);
}

torch::Tensor linear_gelu_tanh(const Parameters& params, const std::string& prefix,
                               const torch::Tensor& x) {
  const auto& weight = params[prefix + ".weight"];
  // An input in another dtype is cast as linear() casts it, and keeps linear then gelu.
  if (x.scalar_type() != weight.scalar_type())
    return torch::gelu(linear(params, prefix, x), "tanh");
  return nn::linear_gelu_tanh(x, weight, params[prefix + ".bias"]);
}

torch::Tensor layer_norm_f32(const torch::Tensor& x, double eps) {
  return torch::layer_norm(x.to(torch::kFloat32), {x.size(-1)}, {}, {}, eps);
}

torch::Tensor rms_norm(const Parameters& params, const std::string& prefix, const torch::Tensor& x,
                       double eps) {
  // One fused kernel (float32 statistics inside) instead of the reference's chain of
  // elementwise ops; for bf16 it rounds once instead of twice.
  return at::rms_norm(x, {x.size(-1)}, params[prefix + ".weight"].to(x.scalar_type()), eps);
}

// ---- VAE blocks ---------------------------------------------------------------------------------

namespace {
// Frames a causal 3x3x3 convolution carries over from the previous chunk.
constexpr int64_t kCachedFrames = 2;
}  // namespace

torch::Tensor& CausalCache::slot() {
  if (next == slots.size()) slots.emplace_back();
  return slots[next++];
}

void add_conv3d(Parameters& params, const std::string& prefix, int64_t in, int64_t out,
                std::vector<int64_t> kernel) {
  params.add(prefix + ".weight", {out, in, kernel[0], kernel[1], kernel[2]}, ParamKind::kWeight);
  params.add(prefix + ".bias", {out}, ParamKind::kBias);
}

void add_vae_residual(Parameters& params, const std::string& prefix, int64_t in, int64_t out) {
  params.add(prefix + ".norm1.gamma", {in, 1, 1, 1}, ParamKind::kScale);
  add_conv3d(params, prefix + ".conv1", in, out, {3, 3, 3});
  params.add(prefix + ".norm2.gamma", {out, 1, 1, 1}, ParamKind::kScale);
  add_conv3d(params, prefix + ".conv2", out, out, {3, 3, 3});
  if (in != out) add_conv3d(params, prefix + ".conv_shortcut", in, out, {1, 1, 1});
}

void add_vae_attention(Parameters& params, const std::string& prefix, int64_t dim) {
  params.add(prefix + ".norm.gamma", {dim, 1, 1}, ParamKind::kScale);
  params.add(prefix + ".to_qkv.weight", {3 * dim, dim, 1, 1}, ParamKind::kWeight);
  params.add(prefix + ".to_qkv.bias", {3 * dim}, ParamKind::kBias);
  params.add(prefix + ".proj.weight", {dim, dim, 1, 1}, ParamKind::kWeight);
  params.add(prefix + ".proj.bias", {dim}, ParamKind::kBias);
}

torch::Tensor frames_to_batch(const torch::Tensor& x) {
  return x.permute({0, 2, 1, 3, 4})
      .reshape({x.size(0) * x.size(2), x.size(1), x.size(3), x.size(4)});
}

torch::Tensor batch_to_frames(const torch::Tensor& x, int64_t batch) {
  return x.view({batch, x.size(0) / batch, x.size(1), x.size(2), x.size(3)})
      .permute({0, 2, 1, 3, 4});
}

torch::Tensor vae_rms_norm(const Parameters& params, const std::string& prefix,
                           const torch::Tensor& x) {
  const auto norm = x.norm(2, /*dim=*/{1}, /*keepdim=*/true).clamp_min(1e-12);
  // The gain is stored float32; a bf16 VAE (vae_dtype) multiplies in its own dtype, as a
  // diffusers AutoencoderKLWan cast to bf16 does.
  return x / norm * std::sqrt(static_cast<double>(x.size(1))) *
         params[prefix + ".gamma"].to(x.scalar_type());
}

namespace {

// silu(vae_rms_norm(x)) written into out: the per-pixel factor sqrt(C) / |x| is formed on the
// (B, 1, T, H, W) statistics, so the full-size tensor is passed three times (scale, gain, SiLU)
// where the textbook chain passes it four times and allocates at each step. The factor stays
// float32 (a float16 one would overflow where |x| < sqrt(C) / 65504).
void rms_norm_silu_into(const Parameters& params, const std::string& prefix, const torch::Tensor& x,
                        torch::Tensor& out) {
  const auto factor = at::linalg_vector_norm(x, 2, /*dim=*/{1}, /*keepdim=*/true, torch::kFloat32)
                          .clamp_min_(1e-12)
                          .reciprocal_()
                          .mul_(std::sqrt(static_cast<double>(x.size(1))));
  at::mul_out(out, x, factor);
  out.mul_(params[prefix + ".gamma"].to(x.scalar_type()));
  at::silu_(out);
}

// No padding in time, "same" in space, for a (out, in, kt, kh, kw) weight.
std::vector<int64_t> same_padding(const torch::Tensor& weight) {
  return {0, weight.size(3) / 2, weight.size(4) / 2};
}

using FillChunk = std::function<void(torch::Tensor& chunk)>;

// A causal convolution whose input is laid out once: zero frames, the frames the slot carries
// from the previous chunk, then the chunk's own frames, which `fill` writes in place. Space is
// padded by the convolution itself. Concatenating with the cache and then padding, as the
// reference does, copies the full-resolution activations twice per convolution.
torch::Tensor causal_conv3d_filled(const Parameters& params, const std::string& prefix,
                                   const torch::Tensor& x, torch::Tensor* slot,
                                   const FillChunk& fill) {
  const auto& weight = params[prefix + ".weight"];
  const int64_t time_pad = weight.size(2) - 1;
  const int64_t cached = slot && slot->defined() ? slot->size(2) : 0;
  require(cached <= time_pad, prefix + ": the cache slot holds " + std::to_string(cached) +
                                  " frames, more than the kernel's " + std::to_string(time_pad));
  auto sizes = x.sizes().vec();
  sizes[2] += time_pad;
  auto input = torch::empty(sizes, x.options().memory_format(x.suggest_memory_format()));
  if (time_pad > cached) input.slice(2, 0, time_pad - cached).zero_();
  if (cached > 0) input.slice(2, time_pad - cached, time_pad).copy_(*slot);
  auto chunk = input.slice(2, time_pad);
  fill(chunk);
  if (slot && time_pad > 0) {
    // The next chunk needs the last two frames; a one-frame chunk borrows one from the slot.
    const int64_t keep = std::min(kCachedFrames, cached + x.size(2));
    *slot = input.slice(2, input.size(2) - keep).clone();
  }
  return torch::conv3d(input, weight, params[prefix + ".bias"], /*stride=*/1, same_padding(weight));
}

torch::Tensor causal_conv3d_impl(const Parameters& params, const std::string& prefix,
                                 const torch::Tensor& x, torch::Tensor* slot) {
  const auto& weight = params[prefix + ".weight"];
  if (weight.size(2) == 1)  // nothing in time to pad or carry
    return torch::conv3d(x, weight, params[prefix + ".bias"], /*stride=*/1, same_padding(weight));
  return causal_conv3d_filled(params, prefix, x, slot,
                              [&](torch::Tensor& chunk) { chunk.copy_(x); });
}

torch::Tensor* temporal_slot(const Parameters& params, const std::string& prefix,
                             CausalCache* cache) {
  const bool temporal = params[prefix + ".weight"].size(2) > 1;
  return cache && temporal ? &cache->slot() : nullptr;
}

}  // namespace

torch::Tensor causal_conv3d_with_slot(const Parameters& params, const std::string& prefix,
                                      const torch::Tensor& x, torch::Tensor& slot) {
  return causal_conv3d_impl(params, prefix, x, &slot);
}

torch::Tensor causal_conv3d(const Parameters& params, const std::string& prefix,
                            const torch::Tensor& x, CausalCache* cache) {
  return causal_conv3d_impl(params, prefix, x, temporal_slot(params, prefix, cache));
}

torch::Tensor rms_norm_silu_causal_conv3d(const Parameters& params, const std::string& norm_prefix,
                                          const std::string& conv_prefix, const torch::Tensor& x,
                                          CausalCache* cache) {
  return causal_conv3d_filled(
      params, conv_prefix, x, temporal_slot(params, conv_prefix, cache),
      [&](torch::Tensor& chunk) { rms_norm_silu_into(params, norm_prefix, x, chunk); });
}

torch::Tensor vae_residual(const Parameters& params, const std::string& prefix,
                           const torch::Tensor& x, CausalCache& cache) {
  const auto shortcut = params.contains(prefix + ".conv_shortcut.weight")
                            ? causal_conv3d(params, prefix + ".conv_shortcut", x, nullptr)
                            : x;
  const auto h =
      rms_norm_silu_causal_conv3d(params, prefix + ".norm1", prefix + ".conv1", x, &cache);
  return rms_norm_silu_causal_conv3d(params, prefix + ".norm2", prefix + ".conv2", h, &cache)
      .add_(shortcut);
}

torch::Tensor vae_downsample(const Parameters& params, const std::string& prefix,
                             const torch::Tensor& x, bool temporal, CausalCache& cache) {
  const int64_t batch = x.size(0), time = x.size(2), height = x.size(3), width = x.size(4);
  // Zero padding on the right and bottom only, then a stride-2 3x3 convolution per frame. The
  // frames go into the padded layout in one copy (reordering, then padding, would make two).
  const auto layout = x.suggest_memory_format() == at::MemoryFormat::ChannelsLast3d
                          ? at::MemoryFormat::ChannelsLast
                          : at::MemoryFormat::Contiguous;
  auto frames = torch::empty({batch * time, x.size(1), height + 1, width + 1},
                             x.options().memory_format(layout));
  frames.select(2, height).zero_();
  frames.select(3, width).zero_();
  frames.slice(2, 0, height)
      .slice(3, 0, width)
      .unflatten(0, {batch, time})
      .copy_(x.permute({0, 2, 1, 3, 4}));
  frames = torch::conv2d(frames, params[prefix + ".resample.1.weight"],
                         params[prefix + ".resample.1.bias"], /*stride=*/2);
  auto y = batch_to_frames(frames, batch);
  if (!temporal) return y;
  auto& slot = cache.slot();
  if (!slot.defined()) {  // the first chunk passes through and is remembered
    slot = y.clone();
    return y;
  }
  const auto keep = y.slice(2, y.size(2) - 1).clone();
  y = torch::conv3d(torch::cat({slot.slice(2, slot.size(2) - 1), y}, 2),
                    params[prefix + ".time_conv.weight"], params[prefix + ".time_conv.bias"],
                    /*stride=*/{2, 1, 1});
  slot = keep;
  return y;
}

torch::Tensor vae_attention(const Parameters& params, const std::string& prefix,
                            const torch::Tensor& x) {
  const int64_t batch = x.size(0), channels = x.size(1);
  auto frames = frames_to_batch(x);
  const int64_t n = frames.size(0), height = frames.size(2), width = frames.size(3);
  auto h = vae_rms_norm(params, prefix + ".norm", frames);
  auto qkv = torch::conv2d(h, params[prefix + ".to_qkv.weight"], params[prefix + ".to_qkv.bias"]);
  qkv = qkv.reshape({n, 1, 3 * channels, height * width}).permute({0, 1, 3, 2}).contiguous();
  const auto parts = qkv.chunk(3, -1);
  auto out = at::scaled_dot_product_attention(parts[0], parts[1], parts[2]);  // (n, 1, HW, C)
  out = out.squeeze(1).permute({0, 2, 1}).reshape({n, channels, height, width});
  out = torch::conv2d(out, params[prefix + ".proj.weight"], params[prefix + ".proj.bias"]);
  return batch_to_frames(out, batch) + x;
}

}  // namespace vidprobe::backbones::wan
