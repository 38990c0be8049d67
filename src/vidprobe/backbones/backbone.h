#pragma once
// The one backbone interface. A backbone is a frozen feature extractor: it takes a clip and an
// extraction point and returns per-frame feature maps.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vidprobe::backbones {

// Where in the network features are read.
struct ExtractionPoint {
  int layer = -1;               // block index, 0-based; -1 = the family's default
  std::optional<int> timestep;  // diffusion models: the timestep the network is given (0..999)
  // Diffusion models: the noise level the latents are noised to. Unset: timestep / 1000. A
  // sampler's schedule decouples the two (diffusion_time.h): the authors' WAN extraction noises
  // to sigma 0.5023 and feeds timestep 502.
  std::optional<double> sigma;
  std::uint64_t noise_seed = 0;  // diffusion models: seed of the noise draw
};

// What a backbone expects as input.
struct InputSpec {
  int height = 224, width = 224;                  // pixels fed to the network
  std::vector<double> mean{0.485, 0.456, 0.406};  // per-channel normalisation of [0, 1] RGB
  std::vector<double> std{0.229, 0.224, 0.225};
  int frames_multiple = 1;  // clip length must be k * this (+ frames_offset)
  int frames_offset = 0;    // e.g. WAN wants 4k + 1 frames
  int patch_size = 16;
};

struct FeatureMaps {
  torch::Tensor features;            // (T, C, h, w) one map per input frame
  std::vector<int64_t> native_grid;  // the backbone's own token grid, e.g. {T/2, h, w}
  // (T) int64: which of the backbone's own temporal maps frame t's map is (a WAN latent serves 4
  // frames, a tubelet 2; such frames carry copies of one map). Undefined: every frame has its
  // own. The feature cache stores each map once with this index.
  torch::Tensor frame_index = {};
};

// A clip's exact geometry at the ground truth's resolution, as the extractor stores it. Only
// calibration backbones (the oracles of oracles.h, never a model) are handed it.
struct ClipTruth {
  torch::Tensor depth;       // (T, H, W) float, camera-frame z; 0 where not valid
  torch::Tensor valid;       // (T, H, W) bool
  torch::Tensor extrinsics;  // (T, 3, 4) float, camera-from-world (OpenCV)
  torch::Tensor intrinsics;  // (T, 3, 3) float, at H x W
  // The frames at `frames` (int64 indices), in that order.
  ClipTruth select(const torch::Tensor& frames) const;
};

class Backbone {
 public:
  virtual ~Backbone() = default;
  virtual std::string name() const = 0;
  virtual InputSpec input_spec() const = 0;
  virtual int num_layers() const = 0;
  virtual int feature_dim() const = 0;
  virtual ExtractionPoint default_point() const = 0;
  // clip: (T, 3, H, W) float in [0, 1] RGB at input_spec() size (normalisation happens inside).
  virtual FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) = 0;
  // Features at several points of one clip, in the order asked. Backbones whose input passes
  // through a costly shared stage (WAN's VAE encoding) override this to run that stage once.
  virtual std::vector<FeatureMaps> extract_many(const torch::Tensor& clip,
                                                const std::vector<ExtractionPoint>& points) {
    std::vector<FeatureMaps> out;
    out.reserve(points.size());
    for (const auto& point : points) out.push_back(extract(clip, point));
    return out;
  }
  virtual void to(torch::Device device, torch::Dtype dtype) = 0;

  // Calibration backbones compute their features from the clip's ground truth: they return true
  // here and implement extract_from_truth, which the extractor then calls instead of extract_many.
  virtual bool reads_truth() const { return false; }
  virtual std::vector<FeatureMaps> extract_from_truth(const torch::Tensor& clip,
                                                      const ClipTruth& truth,
                                                      const std::vector<ExtractionPoint>& points);
};

struct BackboneOptions {
  std::string weights;  // checkpoint file or directory
  // With no weights: build the real architecture with a seeded random initialisation instead of
  // failing (benchmarks at real size, smoke tests). Never used for reported numbers.
  bool random_init = false;
  std::uint64_t seed = 0;
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;  // compute dtype of the network's weights
  // Family-specific settings, `--backbone-opt key=value` on the command line (e.g. WAN's
  // text_context or noise_draws). A family rejects keys it does not know, listing the ones it does.
  std::map<std::string, std::string> extra;
};

// Throws vidprobe::Error when `extra` holds a key outside `known`, naming it and the known keys.
void require_known_extra_options(const std::string& backbone,
                                 const std::map<std::string, std::string>& extra,
                                 const std::vector<std::string>& known);

// Sets `value` from a 0/1 setting `key` of `extra` when it is given; throws vidprobe::Error
// naming the key and the value otherwise.
void read_zero_one_option(const std::map<std::string, std::string>& extra, const std::string& key,
                          bool& value);

}  // namespace vidprobe::backbones
