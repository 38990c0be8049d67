#pragma once
// The frames of each clip a probe run reads: the stored frames as they are (views.count 0), or
// views drawn from them (the paper's protocol, data/view_sampling.h): anew every epoch for
// training, fixed per clip (or drifting per validation pass) for validation and evaluation.
#include <cstdint>
#include <string>
#include <vector>

#include "vidprobe/features/feature_cache.h"
#include "vidprobe/geometry/normalization.h"
#include "vidprobe/probe/probe_config.h"

namespace vidprobe::probe {

class ViewPlan {
 public:
  ViewPlan(ViewsConfig config, std::uint64_t train_seed)
      : config_(std::move(config)), train_seed_(train_seed) {}

  bool drawn() const { return config_.sampling.count > 0; }
  // Frames the probe reads per clip: the view count, or `stored` frames when nothing is drawn.
  int64_t frames_per_clip(int64_t stored) const;
  // Training views of the clip at `position` in epoch `epoch`.
  std::vector<int64_t> training(const features::FeatureShard& clip, std::size_t position,
                                std::uint64_t epoch) const;
  // Validation / evaluation views; `pass` only matters when they drift (views.val "drift").
  std::vector<int64_t> evaluation(const features::FeatureShard& clip, std::size_t position,
                                  std::uint64_t pass = 0) const;
  geometry::ScaleFrom scale_from() const;

 private:
  std::vector<int64_t> checked(const features::FeatureShard& clip,
                               std::vector<int64_t> views) const;
  ViewsConfig config_;
  std::uint64_t train_seed_;
};

// The clip restricted to `frames` with one feature map each (features::select_frames).
features::FeatureShard with_views(const features::FeatureShard& clip,
                                  const std::vector<int64_t>& frames);

}  // namespace vidprobe::probe
