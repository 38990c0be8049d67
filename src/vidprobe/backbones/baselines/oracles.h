#pragma once
// Calibration backbones: features computed from a clip's exact ground truth, never from its
// pixels, so that a benchmark has a ceiling next to its floor (the constant predictor). They are
// measuring instruments, not models, and are never reported as one.
//  * oracle-depth  — per pixel, that frame's depth and the ray direction in its own camera frame
//                    (plus the validity flag): everything a single frame's geometry holds, nothing
//                    across frames (no pose, no shared scale).
//  * oracle-points — oracle-depth's values plus the pixel's 3D point in the first frame's camera
//                    frame (the clip's world point map, as the probe's targets are expressed): the
//                    cross-view geometry is in the features.
// Both lay the per-pixel values of each patch out as that patch token's channels (patch 8 on a
// 64 x 64 input by default, like `pixels`), optionally mixed by a fixed random orthogonal map to
// `channels`, and corrupted by Gaussian noise of `noise` times each value's RMS over the clip, so
// the curve from ceiling to floor can be drawn. `--temporal per-frame` turns oracle-points into
// oracle-depth with redundant channels: each frame is then its own first frame.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/registry.h"

namespace vidprobe::backbones {

struct OracleConfig {
  bool world_points = false;  // oracle-points
  int height = 64, width = 64, patch = 8;
  int channels = 0;  // 0: the raw per-patch values (values per pixel x patch x patch)
  double noise = 0;  // standard deviation relative to each value's RMS over the clip
};

// The `--backbone-opt` settings: size (N or HxW), patch, channels, noise (oracle_config).
FamilyOptions oracle_family_options();
OracleConfig oracle_config(bool world_points, const std::map<std::string, std::string>& extra);
std::unique_ptr<Backbone> make_oracle_backbone(bool world_points, const BackboneOptions& options);

// The per-pixel values at the truth's resolution, (T, k, H, W): depth, ray x/z, ray y/z, valid,
// then (oracle-points) the first frame's camera-frame x, y, z. Zero where not valid.
torch::Tensor oracle_pixel_values(const ClipTruth& truth, bool world_points);

}  // namespace vidprobe::backbones
