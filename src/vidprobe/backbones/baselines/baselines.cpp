#include "vidprobe/backbones/baselines/baselines.h"

#include "vidprobe/backbones/family_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/vit.h"

namespace vidprobe::backbones {
namespace {

class PixelsBackbone final : public Backbone {
 public:
  explicit PixelsBackbone(const BackboneOptions& options) : device_(options.device) {
    spec_.patch_size = 8;
    spec_.height = spec_.width = 64;
  }
  std::string name() const override { return "pixels"; }
  InputSpec input_spec() const override { return spec_; }
  int num_layers() const override { return 1; }
  int feature_dim() const override { return 3 * spec_.patch_size * spec_.patch_size; }
  ExtractionPoint default_point() const override { return point_at_layer(0); }
  void to(torch::Device device, torch::Dtype) override { device_ = device; }

  FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) override {
    check_clip(clip, spec_, name());
    require(point.layer == 0 || point.layer == -1,
            "pixels has a single layer 0; got layer " + std::to_string(point.layer));
    const int p = spec_.patch_size;
    auto x = normalize_clip(clip.to(device_), spec_);
    const auto T = x.size(0), gh = x.size(2) / p, gw = x.size(3) / p;
    // (T, 3, gh, p, gw, p) -> (T, 3 * p * p, gh, gw): each patch's pixels become its channels.
    auto patches =
        x.reshape({T, 3, gh, p, gw, p}).permute({0, 1, 3, 5, 2, 4}).reshape({T, 3 * p * p, gh, gw});
    return {patches, {T, gh, gw}};
  }

 private:
  InputSpec spec_;
  torch::Device device_;
};

class RandomViTBackbone final : public Backbone {
 public:
  explicit RandomViTBackbone(const BackboneOptions& options) {
    config_.image_size = 64;
    config_.patch_size = 8;
    config_.width = 384;
    config_.depth = 6;
    config_.heads = 6;
    config_.layer_scale_init = 1.0;
    torch::manual_seed(static_cast<int64_t>(options.seed) + 20251222);
    vit_ = nn::ViT(config_);
    vit_->eval();
    vit_->to(options.device, options.dtype);
    spec_.patch_size = config_.patch_size;
    spec_.height = spec_.width = config_.image_size;
  }
  std::string name() const override { return "random-vit"; }
  InputSpec input_spec() const override { return spec_; }
  int num_layers() const override { return config_.depth; }
  int feature_dim() const override { return config_.width; }
  ExtractionPoint default_point() const override { return point_at_layer(config_.depth / 2); }
  void to(torch::Device device, torch::Dtype dtype) override { vit_->to(device, dtype); }

  FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) override {
    check_clip(clip, spec_, name());
    torch::NoGradGuard no_grad;
    const int layer = point.layer < 0 ? default_point().layer : point.layer;
    const auto& weight = vit_->patch_embed->weight;
    auto x = normalize_clip(clip.to(weight.device(), weight.scalar_type()), spec_);
    auto features = vit_->patch_features(x, {layer}).front();
    return {features, {clip.size(0), features.size(2), features.size(3)}};
  }

 private:
  nn::ViTConfig config_;
  nn::ViT vit_{nullptr};
  InputSpec spec_;
};

}  // namespace

torch::Tensor normalize_clip(const torch::Tensor& clip, const InputSpec& spec) {
  auto opts = torch::TensorOptions().dtype(clip.scalar_type()).device(clip.device());
  auto mean = torch::tensor(spec.mean, torch::kFloat64).to(opts).view({1, 3, 1, 1});
  auto std = torch::tensor(spec.std, torch::kFloat64).to(opts).view({1, 3, 1, 1});
  return (clip - mean) / std;
}

std::unique_ptr<Backbone> make_pixels_backbone(const BackboneOptions& options) {
  return std::make_unique<PixelsBackbone>(options);
}

std::unique_ptr<Backbone> make_random_vit_backbone(const BackboneOptions& options) {
  return std::make_unique<RandomViTBackbone>(options);
}

}  // namespace vidprobe::backbones
