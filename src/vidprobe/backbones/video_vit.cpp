#include "vidprobe/backbones/video_vit.h"

#include "vidprobe/backbones/baselines/baselines.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/backbones/video_tokens.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/patch_embed.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones {

torch::Tensor sinusoid_position_table(int64_t positions, int64_t width) {
  auto position = torch::arange(positions, torch::kFloat64).unsqueeze(1);
  auto pair_index = torch::floor_divide(torch::arange(width, torch::kInt64), 2).to(torch::kFloat64);
  auto angle = position / torch::pow(10000.0, 2 * pair_index / static_cast<double>(width));
  auto even = (torch::arange(width) % 2 == 0).unsqueeze(0);
  return torch::where(even, torch::sin(angle), torch::cos(angle)).to(torch::kFloat32).unsqueeze(0);
}

void add_norm_and_mlp_layout(ShapeMap& layout, const std::string& block_prefix,
                             const VideoViTConfig& config) {
  const int64_t d = config.vit.width, ff = nn::feed_forward_width(config.vit);
  for (const std::string norm : {"norm1", "norm2"}) {
    layout[block_prefix + norm + ".weight"] = {d};
    layout[block_prefix + norm + ".bias"] = {d};
  }
  layout[block_prefix + "mlp.fc1.weight"] = {ff, d};
  layout[block_prefix + "mlp.fc1.bias"] = {ff};
  layout[block_prefix + "mlp.fc2.weight"] = {d, ff};
  layout[block_prefix + "mlp.fc2.bias"] = {d};
}

nn::RotaryAngles rotary_3d_angles(int64_t t, int64_t h, int64_t w, int64_t head_dim) {
  const int64_t segment = 2 * ((head_dim / 3) / 2);
  const int64_t n = t * h * w;
  auto index = torch::arange(n, torch::kInt64);
  const std::vector<torch::Tensor> axis_positions = {
      torch::floor_divide(index, h * w), torch::floor_divide(index % (h * w), w), index % w};
  auto cos = torch::ones({n, head_dim}, torch::kFloat32);
  auto sin = torch::zeros({n, head_dim}, torch::kFloat32);
  if (segment > 0) {
    // In float32, as the reference computes them for a float32 model.
    auto omega = torch::arange(segment / 2, torch::kFloat32) / (segment / 2.0);
    omega = 1.0 / torch::pow(10000.0, omega);
    for (int64_t axis = 0; axis < 3; ++axis) {
      auto freq = axis_positions[axis].to(torch::kFloat32).unsqueeze(1) * omega;  // (n, s / 2)
      const auto dims = torch::indexing::Slice(axis * segment, (axis + 1) * segment);
      cos.index_put_({torch::indexing::Slice(), dims}, torch::cos(freq).repeat({1, 2}));
      sin.index_put_({torch::indexing::Slice(), dims}, torch::sin(freq).repeat({1, 2}));
    }
  }
  // (1, 1, tokens, head_dim): the runtime rotary kernel's table layout (nn/rotary.h).
  return {cos.view({1, 1, n, head_dim}), sin.view({1, 1, n, head_dim}),
          nn::RotaryAngles::Pairing::kInterleaved, 1};
}

VideoViTImpl::VideoViTImpl(VideoViTConfig config) : config_(std::move(config)) {
  const auto& vit = config_.vit;
  const int64_t p = vit.patch_size;
  patch_embed = register_module(
      "patch_embed",
      torch::nn::Conv3d(torch::nn::Conv3dOptions(3, vit.width, {config_.tubelet, p, p})
                            .stride({config_.tubelet, p, p})));
  if (config_.positions == VideoPositions::kStoredTable) {
    const int64_t grid = vit.image_size / p;
    pos_embed = register_parameter(
        "pos_embed", torch::zeros({1, config_.frames / config_.tubelet * grid * grid, vit.width}),
        /*requires_grad=*/false);
  }
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < vit.depth; ++i) blocks->push_back(nn::Block(nn::block_options(vit)));
}

std::vector<torch::Tensor> VideoViTImpl::block_tokens(const torch::Tensor& video,
                                                      const std::vector<int>& layers) {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kTransformerStage);
  const auto& vit = config_.vit;
  require(video.dim() == 5 && video.size(1) == 3,
          "video ViT input must be (B, 3, T, H, W), got " + c10::str(video.sizes()));
  nn::require_kept_layers(blocks, layers);
  const int64_t t = video.size(2) / config_.tubelet, h = video.size(3) / vit.patch_size,
                w = video.size(4) / vit.patch_size;
  // (B, t * h * w, D) in (t, y, x) order and contiguous. The reference's conv3d + flatten +
  // transpose leaves a transposed view, whose strides the residual stream keeps through every
  // block: each residual add then runs as a strided (non-vectorised) kernel and each LayerNorm
  // first copies its input (14 % of V-JEPA ViT-L's GPU time on the H200).
  auto x = nn::embed_patches(video, patch_embed->weight, patch_embed->bias);
  const auto& positions = grid_positions(t, h, w, x);
  if (positions.table.defined()) x = x + positions.table;
  const nn::RotaryAngles* rotary = positions.rotary ? &*positions.rotary : nullptr;
  return nn::kept_layer_streams(blocks, x, layers, rotary);
}

const VideoViTImpl::GridPositions& VideoViTImpl::grid_positions(int64_t t, int64_t h, int64_t w,
                                                                const torch::Tensor& like) {
  auto key = nn::GridKey::of({t, h, w}, like.options());
  // Weights loaded into the stored table after a clip, or the module moved, renew the cache.
  if (positions_.key == key && positions_.stored.matches(pos_embed)) return positions_;
  positions_ = {std::move(key), nn::TensorSnapshot(pos_embed), {}, std::nullopt};
  const auto& vit = config_.vit;
  if (config_.positions == VideoPositions::kStoredTable) {
    positions_.table = stored_positions(t, h, w).to(like.scalar_type());
  } else if (config_.positions == VideoPositions::kSinusoidTable) {
    positions_.table =
        sinusoid_position_table(t * h * w, vit.width).to(like.device(), like.scalar_type());
  } else if (config_.positions == VideoPositions::kRotary3d) {
    auto angles = rotary_3d_angles(t, h, w, vit.width / vit.heads);
    angles.cos = angles.cos.to(like.device());
    angles.sin = angles.sin.to(like.device());
    positions_.rotary = nn::in_dtype(angles, like.scalar_type());
  }
  return positions_;
}

torch::Tensor VideoViTImpl::stored_positions(int64_t t, int64_t h, int64_t w) const {
  const int64_t t0 = config_.frames / config_.tubelet,
                g = config_.vit.image_size / config_.vit.patch_size;
  if (t == t0 && h == g && w == g) return pos_embed;
  namespace F = torch::nn::functional;
  // The reference passes these ratios as scale factors (not the output size): the kernel maps
  // output to input coordinates with them.
  const std::vector<double> scale = {static_cast<double>(t) / static_cast<double>(t0),
                                     static_cast<double>(h) / static_cast<double>(g),
                                     static_cast<double>(w) / static_cast<double>(g)};
  const int64_t d = pos_embed.size(2);
  auto grid = pos_embed.reshape({1, t0, g, g, d}).permute({0, 4, 1, 2, 3});
  auto resized = F::interpolate(grid, F::InterpolateFuncOptions()
                                          .scale_factor(scale)
                                          .mode(torch::kTrilinear)
                                          .align_corners(false)
                                          .recompute_scale_factor(false));
  require(resized.size(2) == t && resized.size(3) == h && resized.size(4) == w,
          "position table resized to " + c10::str(resized.sizes()) + " for a token grid of " +
              std::to_string(t) + " x " + std::to_string(h) + " x " + std::to_string(w));
  return resized.permute({0, 2, 3, 4, 1}).reshape({1, t * h * w, d});
}

namespace {

class VideoViTBackbone final : public Backbone {
 public:
  VideoViTBackbone(std::string name, const VideoViTConfig& config, const BackboneOptions& options,
                   const CheckpointToModule& to_module_tensors, const std::string& architecture,
                   const HubConfigExpectation& hub_config, const VideoInput& input)
      : name_(std::move(name)), config_(config), clips_(input.spaced_clips) {
    require(clips_ >= 1,
            name_ + ": spaced_clips must be at least 1, got " + std::to_string(clips_));
    const bool load = !options.weights.empty() || !options.random_init;
    // Checked before the model is built, so that a wrong checkpoint fails fast.
    TensorMap tensors;
    if (load) require_checkpoint_config_matches(options.weights, hub_config, name_);
    if (load)
      tensors = to_module_tensors(read_checkpoint(options.weights, name_), config, options.weights);
    torch::manual_seed(static_cast<int64_t>(options.seed));
    model_ = VideoViT(config_);
    if (load) load_module_strict(*model_, tensors, options.weights, architecture);
    model_->eval();
    model_->to(options.device, options.dtype);
    spec_.patch_size = config_.vit.patch_size;
    spec_.height = input.height > 0 ? input.height : config_.vit.image_size;
    spec_.width = input.width > 0 ? input.width : config_.vit.image_size;
    // spaced_partition's lengths: clips * (k * tubelet + tubelet - 1) + 1 frames.
    spec_.frames_multiple = clips_ * config_.tubelet;
    spec_.frames_offset = clips_ > 1 ? 1 + clips_ * (config_.tubelet - 1) : 0;
  }

  std::string name() const override { return name_; }
  InputSpec input_spec() const override { return spec_; }
  int num_layers() const override { return config_.vit.depth; }
  int feature_dim() const override { return config_.vit.width; }
  ExtractionPoint default_point() const override { return point_at_layer(config_.vit.depth - 1); }
  void to(torch::Device device, torch::Dtype dtype) override { model_->to(device, dtype); }

  FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) override {
    check_clip(clip, spec_, name_);
    const int layer = resolve_layer(point, config_.vit.depth, config_.vit.depth - 1, name_);
    torch::NoGradGuard no_grad;
    const auto& weight = model_->patch_embed->weight;
    // Normalised in float32, then cast: the same pixels as the reference preprocessing.
    auto x =
        normalize_clip(clip.to(weight.device(), torch::kFloat32), spec_).to(weight.scalar_type());
    if (clips_ > 1) return extract_spaced(x, layer);
    auto video = x.permute({1, 0, 2, 3}).unsqueeze(0);  // (1, 3, T, H, W)
    auto tokens = model_->block_tokens(video, {layer}).front();
    return tubelet_tokens_to_frame_maps(tokens, clip.size(0) / config_.tubelet,
                                        clip.size(2) / spec_.patch_size,
                                        clip.size(3) / spec_.patch_size, config_.tubelet);
  }

 private:
  // x (T, 3, H, W) normalised: the clips of spaced_partition as one batch, a map per frame.
  FeatureMaps extract_spaced(const torch::Tensor& x, int layer) {
    const auto part = spaced_partition(x.size(0), clips_, config_.tubelet);
    const int64_t length = part.frames.size(1), h = x.size(2) / spec_.patch_size,
                  w = x.size(3) / spec_.patch_size, t = length / config_.tubelet;
    auto clips = x.index_select(0, part.frames.flatten().to(x.device()))
                     .view({clips_, length, 3, x.size(2), x.size(3)})
                     .permute({0, 2, 1, 3, 4});  // (clips, 3, L, H, W)
    auto tokens = model_->block_tokens(clips, {layer}).front();
    auto maps = tokens.reshape({clips_ * t, h, w, tokens.size(2)}).permute({0, 3, 1, 2});
    return {maps.index_select(0, part.frame_index.to(maps.device())).contiguous(),
            {clips_ * t, h, w},
            part.frame_index};
  }

  std::string name_;
  VideoViTConfig config_;
  int clips_ = 1;
  VideoViT model_{nullptr};
  InputSpec spec_;
};

}  // namespace

std::unique_ptr<Backbone> make_video_vit_backbone(
    const std::string& name, const VideoViTConfig& config, const BackboneOptions& options,
    const CheckpointToModule& to_module_tensors, const std::string& architecture,
    const HubConfigExpectation& hub_config, const VideoInput& input) {
  return std::make_unique<VideoViTBackbone>(name, config, options, to_module_tensors, architecture,
                                            hub_config, input);
}

}  // namespace vidprobe::backbones
