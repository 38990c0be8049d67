#include "vidprobe/backbones/vggt/model.h"

#include <iostream>
#include <regex>

#include "vidprobe/backbones/baselines/baselines.h"
#include "vidprobe/backbones/dinov2/dinov2.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/head_names.h"
#include "vidprobe/nn/linear.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones {
namespace {

constexpr int64_t kPoseDim = nn::kPoseEncodingDim;
const std::vector<double> kImagenetMean{0.485, 0.456, 0.406};
const std::vector<double> kImagenetStd{0.229, 0.224, 0.225};

// torch's nn.LayerNorm default: VGGT's aggregator blocks, camera trunk and head norms use it
// (the DINOv2 patch embed keeps its own 1e-6).
constexpr double kTorchLayerNormEps = 1e-5;

nn::BlockOptions aggregator_block(const VggtConfig& c) {
  nn::BlockOptions block;
  block.attention.dim = c.width;
  block.attention.num_heads = c.heads;
  block.attention.qk_norm = true;
  block.mlp_ratio = c.mlp_ratio;
  block.layer_scale_init = c.layer_scale_init;
  block.norm_eps = kTorchLayerNormEps;
  block.fuse_residual_norm = true;  // frozen here; training records gradients, which take libtorch
  return block;
}

// ---- reference layout (shapes by key), written from the released checkpoint's key names ----

void add_norm(ShapeMap& layout, const std::string& prefix, int64_t dim) {
  layout[prefix + ".weight"] = {dim};
  layout[prefix + ".bias"] = {dim};
}

void add_linear(ShapeMap& layout, const std::string& prefix, int64_t in, int64_t out) {
  layout[prefix + ".weight"] = {out, in};
  layout[prefix + ".bias"] = {out};
}

void add_conv(ShapeMap& layout, const std::string& prefix, int64_t in, int64_t out, int64_t k,
              bool bias = true, bool transposed = false) {
  layout[prefix + ".weight"] = transposed ? Shape{in, out, k, k} : Shape{out, in, k, k};
  if (bias) layout[prefix + ".bias"] = {out};
}

void add_block(ShapeMap& layout, const std::string& prefix, int64_t dim, int64_t heads,
               double mlp_ratio, bool qk_norm) {
  const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio);
  add_norm(layout, prefix + ".norm1", dim);
  add_linear(layout, prefix + ".attn.qkv", dim, 3 * dim);
  if (qk_norm) {
    add_norm(layout, prefix + ".attn.q_norm", dim / heads);
    add_norm(layout, prefix + ".attn.k_norm", dim / heads);
  }
  add_linear(layout, prefix + ".attn.proj", dim, dim);
  layout[prefix + ".ls1.gamma"] = {dim};
  add_norm(layout, prefix + ".norm2", dim);
  add_linear(layout, prefix + ".mlp.fc1", dim, hidden);
  add_linear(layout, prefix + ".mlp.fc2", hidden, dim);
  layout[prefix + ".ls2.gamma"] = {dim};
}

void add_dpt_head(ShapeMap& layout, const std::string& p, const VggtConfig& c, int64_t dim_in,
                  int64_t output_dim) {
  const auto& oc = c.dpt_out_channels;
  const int64_t f = c.dpt_features;
  add_norm(layout, p + ".norm", dim_in);
  for (int i = 0; i < 4; ++i)
    add_conv(layout, p + ".projects." + std::to_string(i), dim_in, oc[i], 1);
  add_conv(layout, p + ".resize_layers.0", oc[0], oc[0], 4, true, true);
  add_conv(layout, p + ".resize_layers.1", oc[1], oc[1], 2, true, true);
  add_conv(layout, p + ".resize_layers.3", oc[3], oc[3], 3);
  for (int i = 0; i < 4; ++i) {
    const std::string level = std::to_string(i + 1);
    add_conv(layout, p + ".scratch.layer" + level + "_rn", oc[i], f, 3, /*bias=*/false);
    const std::string refine = p + ".scratch.refinenet" + level;
    add_conv(layout, refine + ".out_conv", f, f, 1);
    for (const std::string unit : {"resConfUnit1", "resConfUnit2"}) {
      if (unit == "resConfUnit1" && i == 3) continue;  // the coarsest level has no skip input
      add_conv(layout, refine + "." + unit + ".conv1", f, f, 3);
      add_conv(layout, refine + "." + unit + ".conv2", f, f, 3);
    }
  }
  add_conv(layout, p + ".scratch.output_conv1", f, f / 2, 3);
  add_conv(layout, p + ".scratch.output_conv2.0", f / 2, 32, 3);
  add_conv(layout, p + ".scratch.output_conv2.2", 32, output_dim, 1);
}

const std::string kPatchEmbedPrefix = "aggregator.patch_embed.";
const std::string kTrackHeadPrefix = "track_head.";

}  // namespace

// ---------------------------------------------------------------------------------------------

VggtAggregatorImpl::VggtAggregatorImpl(const VggtConfig& cfg) : config(cfg) {
  validate(config);
  patch_embed = register_module("patch_embed", nn::ViT(config.patch_embed));
  // Tiny initial tokens as the reference (normal, std 1e-6); checkpoints overwrite them.
  camera_token = register_parameter("camera_token", torch::randn({1, 2, 1, config.width}) * 1e-6);
  register_token = register_parameter(
      "register_token", torch::randn({1, 2, config.register_tokens, config.width}) * 1e-6);
  const auto block = aggregator_block(config);
  for (int i = 0; i < config.depth; ++i) {
    frame_blocks->push_back(nn::Block(block));
    global_blocks->push_back(nn::Block(block));
  }
  register_module("frame_blocks", frame_blocks);
  register_module("global_blocks", global_blocks);
}

nn::AggregatorOutput VggtAggregatorImpl::forward(const torch::Tensor& images, int last_block) {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kTransformerStage);
  require(images.dim() == 5 && images.size(2) == 3,
          "VGGT: images must be (B, S, 3, H, W), got " + c10::str(images.sizes()));
  const int64_t B = images.size(0), S = images.size(1), H = images.size(3), W = images.size(4);
  const int p = config.patch_size;
  require(H % p == 0 && W % p == 0,
          "VGGT: image size " + std::to_string(H) + " x " + std::to_string(W) +
              " is not a multiple of the patch size " + std::to_string(p));
  const int last = last_block < 0 ? config.depth - 1 : last_block;
  require(last < config.depth, "VGGT: block " + std::to_string(last) + " is outside 0.." +
                                   std::to_string(config.depth - 1));
  const int64_t h = H / p, w = W / p;
  const auto dtype = camera_token.scalar_type();

  // Normalised in float32, then cast: the same pixels as the reference preprocessing.
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(images.device());
  const auto mean = torch::tensor(kImagenetMean, f32).view({1, 1, 3, 1, 1});
  const auto std = torch::tensor(kImagenetStd, f32).view({1, 1, 3, 1, 1});
  const auto normalised = ((images.to(torch::kFloat32) - mean) / std).to(dtype);

  // DINOv2's final norm is applied to its last block's patch tokens (x_norm_patchtokens).
  auto patch =
      patch_embed
          ->patch_features(normalised.reshape({B * S, 3, H, W}), {config.patch_embed.depth - 1})
          .front();
  patch = patch_embed->norm(patch.flatten(2).transpose(1, 2));  // (B S, h w, D)

  const int64_t patch_start = 1 + config.register_tokens;
  auto tokens = torch::cat({nn::expand_first_and_rest(camera_token, B, S),
                            nn::expand_first_and_rest(register_token, B, S), patch},
                           1);
  return nn::run_alternating_blocks(
      frame_blocks, global_blocks, tokens,
      {.batch = B, .frames = S, .patch_start = patch_start, .h = h, .w = w},
      {.num_heads = config.heads, .rope_frequency = config.rope_frequency, .last_block = last});
}

VggtModelImpl::VggtModelImpl(const VggtConfig& cfg) : config(cfg) {
  validate(config);
  const int64_t dim_in = 2 * config.width;
  aggregator = register_module("aggregator", VggtAggregator(config));
  // The camera trunk: plain blocks (no qk-norm, no RoPE) with LayerScale, torch LayerNorm eps.
  const nn::CameraHeadConfig camera{.trunk_depth = config.camera_trunk_depth,
                                    .iterations = config.camera_iterations,
                                    .qk_norm = false,
                                    .layer_scale_init = config.layer_scale_init,
                                    .norm_eps = kTorchLayerNormEps};
  camera_head = register_module(
      "camera_head", nn::CameraHead(camera, dim_in, config.camera_heads, /*mlp_ratio=*/4.0,
                                    /*attend_across_frames=*/true, /*trunc_normal_init=*/false));
  const nn::DenseHeadConfig dense{.features = config.dpt_features,
                                  .out_channels = config.dpt_out_channels,
                                  .pos_embed = true,
                                  .layers = config.dpt_layers,
                                  .relu_skip = true};
  depth_head =
      register_module("depth_head", nn::DptHead(dense, dim_in, 2, config.depth, "exp", "expp1"));
  point_head = register_module("point_head",
                               nn::DptHead(dense, dim_in, 4, config.depth, "inv_log", "expp1"));
}

nn::GeometryPrediction VggtModelImpl::forward(const torch::Tensor& images) {
  auto trunk = aggregator(images);
  const int64_t H = images.size(3), W = images.size(4);
  const int64_t h = H / config.patch_size, w = W / config.patch_size;
  // The heads run in float32 with autocast off, as the reference.
  nn::AutocastDisabledGuard fp32_heads;
  for (auto& tokens : trunk.intermediates) tokens = tokens.to(torch::kFloat32);
  nn::GeometryPrediction out;
  out.pose_encodings = camera_head(trunk.intermediates.back().select(2, 0));
  torch::Tensor depth;
  std::tie(depth, out.depth_conf) = depth_head(trunk.intermediates, trunk.patch_start, h, w, H, W);
  out.depth = depth.squeeze(-1);
  std::tie(out.world_points, out.world_points_conf) =
      point_head(trunk.intermediates, trunk.patch_start, h, w, H, W);
  return out;
}

nn::GeometryPrediction VggtModelImpl::forward_depth_and_cameras(const torch::Tensor& images,
                                                                int64_t frame_chunk) {
  require(frame_chunk > 0,
          "VGGT: the frame chunk must be positive, got " + std::to_string(frame_chunk));
  auto trunk = aggregator(images);
  const int64_t S = images.size(1), H = images.size(3), W = images.size(4);
  const int64_t h = H / config.patch_size, w = W / config.patch_size;
  nn::AutocastDisabledGuard fp32_heads;
  nn::GeometryPrediction out;
  out.pose_encodings = camera_head(trunk.intermediates.back().select(2, 0).to(torch::kFloat32));
  std::vector<torch::Tensor> depths, confs;
  for (int64_t first = 0; first < S; first += frame_chunk) {
    const int64_t count = std::min(frame_chunk, S - first);
    std::vector<torch::Tensor> chunk(trunk.intermediates.size());
    for (const int layer : config.dpt_layers) {
      const auto index = static_cast<std::size_t>(layer);
      chunk[index] = trunk.intermediates[index].narrow(1, first, count).to(torch::kFloat32);
    }
    auto [depth, conf] = depth_head(chunk, trunk.patch_start, h, w, H, W);
    depths.push_back(depth.squeeze(-1));
    confs.push_back(conf);
  }
  out.depth = torch::cat(depths, 1);
  out.depth_conf = torch::cat(confs, 1);
  return out;
}

// ---------------------------------------------------------------------------------------------

ShapeMap vggt_reference_layout(const VggtConfig& c) {
  validate(c);
  ShapeMap layout;
  for (const auto& [key, shape] : dinov2_original_layout(c.patch_embed))
    layout[kPatchEmbedPrefix + key] = shape;
  const int64_t d = c.width, dim_in = 2 * c.width;
  layout["aggregator.camera_token"] = {1, 2, 1, d};
  layout["aggregator.register_token"] = {1, 2, c.register_tokens, d};
  for (int i = 0; i < c.depth; ++i) {
    add_block(layout, "aggregator.frame_blocks." + std::to_string(i), d, c.heads, c.mlp_ratio,
              true);
    add_block(layout, "aggregator.global_blocks." + std::to_string(i), d, c.heads, c.mlp_ratio,
              true);
  }
  layout["camera_head.empty_pose_tokens"] = {1, 1, kPoseDim};
  add_linear(layout, "camera_head.embed_pose", kPoseDim, dim_in);
  add_linear(layout, "camera_head.poseLN_modulation.1", dim_in, 3 * dim_in);
  add_norm(layout, "camera_head.token_norm", dim_in);
  add_norm(layout, "camera_head.trunk_norm", dim_in);
  add_linear(layout, "camera_head.pose_branch.fc1", dim_in, dim_in / 2);
  add_linear(layout, "camera_head.pose_branch.fc2", dim_in / 2, kPoseDim);
  for (int i = 0; i < c.camera_trunk_depth; ++i)
    add_block(layout, "camera_head.trunk." + std::to_string(i), dim_in, c.camera_heads, 4.0, false);
  add_dpt_head(layout, "depth_head", c, dim_in, 2);
  add_dpt_head(layout, "point_head", c, dim_in, 4);
  return layout;
}

VggtCheckpoint vggt_module_tensors(TensorMap checkpoint, const VggtConfig& config,
                                   const std::string& source) {
  VggtCheckpoint out;
  std::size_t track_keys = 0;
  for (auto it = checkpoint.begin(); it != checkpoint.end();) {
    if (it->first.starts_with(kTrackHeadPrefix)) {
      ++track_keys;
      it = checkpoint.erase(it);
    } else {
      ++it;
    }
  }
  if (track_keys > 0)
    out.ignored.push_back("track_head.* (" + std::to_string(track_keys) +
                          " keys: the point-tracking head is not built)");
  require_layout(checkpoint, vggt_reference_layout(config), source,
                 architecture_text(config) + " in the facebookresearch/vggt layout");

  TensorMap patch_embed;
  for (auto it = checkpoint.begin(); it != checkpoint.end();) {
    if (it->first.starts_with(kPatchEmbedPrefix)) {
      patch_embed.emplace(it->first.substr(kPatchEmbedPrefix.size()), std::move(it->second));
      it = checkpoint.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [key, tensor] :
       dinov2_module_tensors(std::move(patch_embed), config.patch_embed, source))
    out.module_tensors.emplace(kPatchEmbedPrefix + key, std::move(tensor));
  for (auto& [key, tensor] : checkpoint)
    out.module_tensors.emplace(nn::vggt_head_module_name(key), tensor);
  return out;
}

VggtModel load_vggt_model(const std::string& path, const VggtConfig& config) {
  auto checkpoint = vggt_module_tensors(read_checkpoint(path, "vggt"), config, path);
  for (const auto& line : checkpoint.ignored)
    std::cerr << "vidprobe: notice: " << path << ": ignoring " << line << "\n";
  VggtModel model = [&] {  // every parameter is loaded next: none drawn first
    nn::UndrawnLinears undrawn;
    return VggtModel(config);
  }();
  load_module_strict(*model, checkpoint.module_tensors, path, architecture_text(config));
  model->eval();
  return model;
}

// ---------------------------------------------------------------------------------------------

namespace {

class VggtBackbone final : public Backbone {
 public:
  VggtBackbone(std::string name, const VggtConfig& config, const BackboneOptions& options,
               int input_size)
      : name_(std::move(name)), config_(config) {
    validate(config_);
    require(input_size > 0 && input_size % config_.patch_size == 0,
            name_ + ": input size " + std::to_string(input_size) +
                " must be a positive multiple of the patch size " +
                std::to_string(config_.patch_size));
    torch::manual_seed(static_cast<int64_t>(options.seed));
    if (!options.weights.empty() || !options.random_init) {
      model_ = load_vggt_model(options.weights, config_);
    } else {
      model_ = VggtModel(config_);
      model_->eval();
    }
    // Only the aggregator is needed for features: the heads are released once loading has
    // checked the whole checkpoint.
    aggregator_ = model_->aggregator;
    model_ = nullptr;
    aggregator_->to(options.device, options.dtype);
    spec_.height = spec_.width = input_size;
    spec_.patch_size = config_.patch_size;
    spec_.mean = kImagenetMean;
    spec_.std = kImagenetStd;
  }

  std::string name() const override { return name_; }
  InputSpec input_spec() const override { return spec_; }
  int num_layers() const override { return config_.depth; }
  int feature_dim() const override { return 2 * config_.width; }
  ExtractionPoint default_point() const override { return point_at_layer(config_.depth - 1); }
  void to(torch::Device device, torch::Dtype dtype) override { aggregator_->to(device, dtype); }

  FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) override {
    check_clip(clip, spec_, name_);
    const int layer = resolve_layer(point, config_.depth, config_.depth - 1, name_);
    torch::NoGradGuard no_grad;
    const auto device = aggregator_->camera_token.device();
    auto out = aggregator_(clip.to(device).unsqueeze(0), layer);
    const auto& tokens = out.intermediates.at(static_cast<std::size_t>(layer));  // (1, T, P, 2D)
    const int64_t T = clip.size(0), h = clip.size(2) / config_.patch_size,
                  w = clip.size(3) / config_.patch_size;
    auto features = tokens.squeeze(0)
                        .slice(1, out.patch_start)
                        .permute({0, 2, 1})
                        .reshape({T, 2 * config_.width, h, w});
    return {features.contiguous(), {T, h, w}};
  }

 private:
  std::string name_;
  VggtConfig config_;
  VggtModel model_{nullptr};
  VggtAggregator aggregator_{nullptr};
  InputSpec spec_;
};

}  // namespace

std::unique_ptr<Backbone> make_vggt_backbone(const std::string& name, const VggtConfig& config,
                                             const BackboneOptions& options, int input_size) {
  return std::make_unique<VggtBackbone>(name, config, options, input_size);
}

}  // namespace vidprobe::backbones
