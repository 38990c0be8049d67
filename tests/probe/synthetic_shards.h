#pragma once
// Synthetic clips whose "backbone features" are a fixed random projection of the clip's own
// normalised ground truth (pooled to the token grid), so a probe can learn them while a constant
// predictor cannot: every clip has its own tilted, bumped depth surface and camera motion.
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "vidprobe/features/feature_cache.h"
#include "vidprobe/probe/batch.h"

namespace vidprobe::probe::testing {

struct SyntheticSpec {
  int clips = 8, frames = 4, size = 32, grid = 4, channels = 16;
  double noise = 0.05;
  std::uint64_t seed = 1;
};

// Rotation about axis (unit) by angle, (3, 3).
inline torch::Tensor axis_angle(const torch::Tensor& axis, double angle) {
  const auto k = axis / axis.norm();
  const auto kx = torch::zeros({3, 3});
  kx[0][1] = -k[2];
  kx[0][2] = k[1];
  kx[1][0] = k[2];
  kx[1][2] = -k[0];
  kx[2][0] = -k[1];
  kx[2][1] = k[0];
  return torch::eye(3) + std::sin(angle) * kx + (1 - std::cos(angle)) * kx.matmul(kx);
}

inline std::vector<features::FeatureShard> synthetic_shards(const SyntheticSpec& spec) {
  auto generator = at::detail::createCPUGenerator(spec.seed);
  auto uniform = [&](std::vector<int64_t> shape, double lo, double hi) {
    return torch::rand(shape, generator) * (hi - lo) + lo;
  };
  // The fixed "backbone": per-cell GT descriptor (13 numbers) -> channels.
  auto projection_generator = at::detail::createCPUGenerator(12345);
  const auto projection = torch::randn({13, spec.channels}, projection_generator);

  const int S = spec.frames, H = spec.size, W = spec.size;
  const auto ys = torch::linspace(-1, 1, H).view({H, 1}).expand({H, W});
  const auto xs = torch::linspace(-1, 1, W).view({1, W}).expand({H, W});
  std::vector<features::FeatureShard> shards;
  for (int c = 0; c < spec.clips; ++c) {
    features::FeatureShard shard;
    shard.clip_id = "clip_" + std::to_string(c);
    auto K = torch::tensor(
        {{0.9 * W, 0.0, (W - 1) / 2.0}, {0.0, 0.9 * H, (H - 1) / 2.0}, {0.0, 0.0, 1.0}},
        torch::kFloat32);
    shard.intrinsics = K.unsqueeze(0).expand({S, 3, 3}).contiguous();
    // Camera 0 at a random world pose; the others rotate and move a little further each frame.
    const auto base_rotation = axis_angle(uniform({3}, -1, 1), uniform({1}, 0, 3.0).item<double>());
    const auto base_translation = uniform({3}, -2, 2);
    const auto step_axis = uniform({3}, -1, 1);
    const double step_angle = uniform({1}, 0.05, 0.25).item<double>();
    const auto step_translation = uniform({3}, -0.4, 0.4);
    std::vector<torch::Tensor> extrinsics, depth;
    const double tilt_x = uniform({1}, -0.6, 0.6).item<double>();
    const double tilt_y = uniform({1}, -0.6, 0.6).item<double>();
    const double offset = uniform({1}, 2.0, 4.0).item<double>();
    const double bump_x = uniform({1}, -0.5, 0.5).item<double>(),
                 bump_y = uniform({1}, -0.5, 0.5).item<double>();
    const double bump_height = uniform({1}, -1.0, 1.0).item<double>();
    for (int s = 0; s < S; ++s) {
      const auto rotation = axis_angle(step_axis, step_angle * s).matmul(base_rotation);
      const auto translation = base_translation + step_translation * s;
      extrinsics.push_back(torch::cat({rotation, translation.view({3, 1})}, 1));
      const double shift = 0.15 * s;  // the surface slides across the view as the camera moves
      const auto bump =
          bump_height * torch::exp(-((xs - bump_x - shift).pow(2) + (ys - bump_y).pow(2)) / 0.1);
      depth.push_back((offset + offset * (tilt_x * xs + tilt_y * ys) * 0.5 + bump).clamp_min(0.3));
    }
    shard.extrinsics = torch::stack(extrinsics).to(torch::kFloat32);
    shard.depth = torch::stack(depth).to(torch::kFloat32);
    auto valid = torch::ones({S, H, W}, torch::kBool);
    valid.index_put_({torch::indexing::Slice(), torch::indexing::Slice(0, H / 8),
                      torch::indexing::Slice(0, W / 4)},
                     false);  // a corner without depth, as sky
    shard.valid = valid;
    shard.depth = shard.depth * valid;
    shard.images =
        (shard.depth.unsqueeze(1).expand({S, 3, H, W}) * 40).clamp(0, 255).to(torch::kUInt8);

    // Features from the normalised GT: depth, points and pose encoding per cell.
    const auto targets =
        normalized_targets(shard.depth.unsqueeze(0), shard.valid.unsqueeze(0),
                           shard.valid.unsqueeze(0).to(torch::kFloat32),
                           shard.extrinsics.unsqueeze(0), shard.intrinsics.unsqueeze(0));
    const auto pool = [&](const torch::Tensor& x) {  // (S, H, W, k) -> (S, g, g, k)
      return torch::adaptive_avg_pool2d(x.permute({0, 3, 1, 2}), {spec.grid, spec.grid})
          .permute({0, 2, 3, 1});
    };
    const auto cell_depth = pool(targets.depth[0].unsqueeze(-1));
    const auto cell_points = pool(targets.world_points[0]);
    const auto cell_pose =
        targets.pose_encoding[0].view({S, 1, 1, 9}).expand({S, spec.grid, spec.grid, 9});
    const auto descriptor = torch::cat({cell_depth, cell_points, cell_pose}, -1);  // (S, g, g, 13)
    auto feats = descriptor.matmul(projection);
    feats = feats + spec.noise * torch::randn(feats.sizes(), generator);
    shard.features = feats.permute({0, 3, 1, 2}).contiguous().to(torch::kFloat16);
    shard.meta = {{"backbone", "synthetic"}};
    shards.push_back(std::move(shard));
  }
  return shards;
}

}  // namespace vidprobe::probe::testing
