#include "vidprobe/backbones/baselines/oracles.h"

#include <string_view>

#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"
#include "vidprobe/data/clip_sampling.h"

namespace vidprobe::backbones {
namespace {

constexpr int kDepthValues = 4;  // depth, ray x/z, ray y/z, valid
constexpr int kPointValues = 3;  // x, y, z in the first frame's camera frame

int values_per_pixel(bool world_points) {
  return kDepthValues + (world_points ? kPointValues : 0);
}

// Camera-frame points (T, 3, H, W) -> the first frame's camera frame: R0 R_t^T (p - t_t) + t0.
torch::Tensor in_first_camera(const torch::Tensor& camera_points, const torch::Tensor& extrinsics) {
  const auto T = camera_points.size(0);
  const auto R = extrinsics.slice(2, 0, 3), t = extrinsics.slice(2, 3, 4);  // (T,3,3), (T,3,1)
  const auto flat = camera_points.reshape({T, 3, -1});
  const auto world = torch::matmul(R.transpose(1, 2), flat - t);
  const auto first = torch::matmul(R[0].unsqueeze(0), world) + t[0].unsqueeze(0);
  return first.reshape(camera_points.sizes());
}

// Orthonormal (channels x raw) map from a fixed seed: an isometry when channels >= raw.
torch::Tensor orthogonal_mix(int raw, int channels) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(20261202);
  const auto gaussian =
      torch::randn({std::max(raw, channels), std::min(raw, channels)}, generator, torch::kFloat64);
  const auto q = std::get<0>(torch::linalg_qr(gaussian));  // orthonormal columns
  return (channels >= raw ? q : q.t()).to(torch::kFloat32).contiguous();
}

// Noise seeded by the clip's truth itself, so that a resumed or sharded run draws the same noise.
std::uint64_t truth_seed(const ClipTruth& truth) {
  const auto depth = truth.depth.to(torch::kCPU, torch::kFloat32).contiguous();
  return stable_hash(std::string_view(static_cast<const char*>(depth.data_ptr()),
                                      static_cast<std::size_t>(depth.nbytes())));
}

class OracleBackbone final : public Backbone {
 public:
  OracleBackbone(OracleConfig config, const BackboneOptions& options)
      : config_(config), seed_(options.seed), device_(options.device) {
    spec_.height = config_.height;
    spec_.width = config_.width;
    spec_.patch_size = config_.patch;
    if (config_.channels > 0) mix_ = orthogonal_mix(raw_dim(), config_.channels);
  }
  std::string name() const override {
    return config_.world_points ? "oracle-points" : "oracle-depth";
  }
  InputSpec input_spec() const override { return spec_; }
  int num_layers() const override { return 1; }
  int feature_dim() const override { return config_.channels > 0 ? config_.channels : raw_dim(); }
  ExtractionPoint default_point() const override {
    ExtractionPoint point;
    point.layer = 0;
    return point;
  }
  void to(torch::Device device, torch::Dtype) override { device_ = device; }
  bool reads_truth() const override { return true; }

  FeatureMaps extract(const torch::Tensor&, const ExtractionPoint&) override {
    throw Error(name() +
                " is computed from a clip's ground truth: extract it with vidprobe extract "
                "(which hands the truth over), not from pixels alone");
  }

  std::vector<FeatureMaps> extract_from_truth(const torch::Tensor&, const ClipTruth& truth,
                                              const std::vector<ExtractionPoint>& points) override {
    for (const auto& point : points)
      require(point.layer <= 0,
              name() + " has a single layer 0; got layer " + std::to_string(point.layer));
    const auto maps = features_of(truth).to(device_);
    const auto T = maps.size(0);
    return std::vector<FeatureMaps>(points.size(),
                                    FeatureMaps{maps, {T, maps.size(2), maps.size(3)}});
  }

 private:
  int raw_dim() const {
    return values_per_pixel(config_.world_points) * config_.patch * config_.patch;
  }

  torch::Tensor features_of(const ClipTruth& truth) const {
    auto values = oracle_pixel_values(truth, config_.world_points);
    if (values.size(2) != spec_.height || values.size(3) != spec_.width)
      values = torch::nn::functional::interpolate(
          values, torch::nn::functional::InterpolateFuncOptions()
                      .size(std::vector<int64_t>{spec_.height, spec_.width})
                      .mode(torch::kNearest));
    if (config_.noise > 0) values = with_noise(values, truth_seed(truth) ^ seed_);
    const int p = config_.patch;
    const auto T = values.size(0), k = values.size(1);
    const auto gh = values.size(2) / p, gw = values.size(3) / p;
    // (T, k, gh, p, gw, p) -> (T, k * p * p, gh, gw): a patch's pixel values become its channels.
    auto patches =
        values.reshape({T, k, gh, p, gw, p}).permute({0, 1, 3, 5, 2, 4}).reshape({T, -1, gh, gw});
    if (mix_.defined()) patches = torch::einsum("oc,tchw->tohw", {mix_, patches});
    return patches.contiguous();
  }

  torch::Tensor with_noise(const torch::Tensor& values, std::uint64_t seed) const {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const auto rms = values.square().mean({0, 2, 3}, /*keepdim=*/true).sqrt();
    return values + config_.noise * rms * torch::randn(values.sizes(), generator, torch::kFloat32);
  }

  OracleConfig config_;
  std::uint64_t seed_;
  torch::Device device_;
  InputSpec spec_;
  torch::Tensor mix_;
};

}  // namespace

torch::Tensor oracle_pixel_values(const ClipTruth& truth, bool world_points) {
  const auto depth = truth.depth.to(torch::kCPU, torch::kFloat32);
  require(depth.dim() == 3, "oracle: depth must be (T, H, W), got " + c10::str(depth.sizes()));
  const auto T = depth.size(0), H = depth.size(1), W = depth.size(2);
  const auto valid = truth.valid.to(torch::kCPU, torch::kBool).logical_and(depth > 0);
  const auto K = truth.intrinsics.to(torch::kCPU, torch::kFloat32);
  require(K.sizes() == torch::IntArrayRef({T, 3, 3}),
          "oracle: intrinsics must be (T, 3, 3), got " + c10::str(K.sizes()));
  const auto view = [&](const torch::Tensor& per_frame) { return per_frame.view({T, 1, 1}); };
  // Pixel centres at integer coordinates (the one camera convention, data/frame.h).
  const auto u = torch::arange(W, torch::kFloat32).view({1, 1, W});
  const auto v = torch::arange(H, torch::kFloat32).view({1, H, 1});
  const auto ray_x = ((u - view(K.select(1, 0).select(1, 2))) / view(K.select(1, 0).select(1, 0)))
                         .expand({T, H, W});
  const auto ray_y = ((v - view(K.select(1, 1).select(1, 2))) / view(K.select(1, 1).select(1, 1)))
                         .expand({T, H, W});
  const auto mask = valid.to(torch::kFloat32);
  const auto z = depth * mask;
  std::vector<torch::Tensor> channels{z, ray_x * mask, ray_y * mask, mask};
  if (world_points) {
    const auto camera_points = torch::stack({ray_x * z, ray_y * z, z}, 1);
    const auto first =
        in_first_camera(camera_points, truth.extrinsics.to(torch::kCPU, torch::kFloat32));
    for (int c = 0; c < kPointValues; ++c) channels.push_back(first.select(1, c) * mask);
  }
  return torch::stack(channels, 1);
}

FamilyOptions oracle_family_options() {
  return {.keys = {"size", "patch", "channels", "noise"},
          .parse = [](const std::string&, const std::map<std::string, std::string>& extra) {
            oracle_config(false, extra);
          }};
}

OracleConfig oracle_config(bool world_points, const std::map<std::string, std::string>& extra) {
  OracleConfig config;
  config.world_points = world_points;
  if (const auto it = extra.find("size"); it != extra.end()) {
    if (it->second.find('x') != std::string::npos) {
      std::tie(config.height, config.width) = parse_height_width(it->second, "--backbone-opt size");
    } else {
      config.height = config.width = parse_int(it->second, "--backbone-opt size");
    }
  }
  if (const auto it = extra.find("patch"); it != extra.end())
    config.patch = parse_int(it->second, "--backbone-opt patch");
  if (const auto it = extra.find("channels"); it != extra.end())
    config.channels = parse_int(it->second, "--backbone-opt channels");
  if (const auto it = extra.find("noise"); it != extra.end())
    config.noise = parse_double(it->second, "--backbone-opt noise");
  require(config.patch >= 1 && config.patch <= 64,
          "--backbone-opt patch must be 1..64, got " + std::to_string(config.patch));
  require(config.height >= config.patch && config.width >= config.patch &&
              config.height % config.patch == 0 && config.width % config.patch == 0 &&
              config.height <= 4096 && config.width <= 4096,
          "--backbone-opt size must be multiples of the patch (" + std::to_string(config.patch) +
              ") up to 4096, got " + std::to_string(config.height) + "x" +
              std::to_string(config.width));
  require(
      config.channels >= 0 && config.channels <= 65536,
      "--backbone-opt channels must be 0 (raw) .. 65536, got " + std::to_string(config.channels));
  require(config.noise >= 0,
          "--backbone-opt noise must be >= 0, got " + std::to_string(config.noise));
  return config;
}

std::unique_ptr<Backbone> make_oracle_backbone(bool world_points, const BackboneOptions& options) {
  return std::make_unique<OracleBackbone>(oracle_config(world_points, options.extra), options);
}

}  // namespace vidprobe::backbones
