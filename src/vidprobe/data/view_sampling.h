#pragma once
// Which frames of a clip the probe sees (its "views"). The paper's protocol (the authors'
// VideoProbeDataset) draws them anew every epoch from features kept for the whole clip: the first
// view is always frame 0 (it defines the world frame), the others follow with gaps of at least
// `min_gap` frames inside the first `context` frames, the spare frames split at random between
// the gaps; then every view but frame 0 moves down to 1 + a multiple of `snap` (the first video
// frame of a causal-VAE latent chunk). The draws use NumPy's generator (core/numpy_random.h), so
// a clip's views for a given seed are the authors' views for that seed.
#include <cstdint>
#include <vector>

#include "vidprobe/core/numpy_random.h"

namespace vidprobe {

struct ViewSampling {
  int count = 4;     // views per clip; 0 = every frame of the clip, in order, never re-drawn
  int min_gap = 5;   // frames between consecutive views, at least (0 = evenly spread)
  int context = 76;  // views lie in frames [0, context)
  int snap = 4;      // views > 0 move to 1 + snap * k (0 = off)
};

// Throws vidprobe::Error naming the field when the settings cannot produce `count` views.
void validate(const ViewSampling& sampling);

// One draw with the generator, as the authors' sampler (sorted, distinct after snapping).
std::vector<std::int64_t> draw_views(const ViewSampling& sampling, NumpyGenerator& generator);

// The views of clip `clip_index` (its position in the split) for a fixed seed: default_rng(seed +
// clip_index), what the authors' dataset uses when given a (truthy) seed.
std::vector<std::int64_t> fixed_views(const ViewSampling& sampling, std::uint64_t seed,
                                      std::uint64_t clip_index);

// Training draws: a stream of its own per (seed, epoch, clip), default_rng([seed, epoch, clip]),
// so an epoch's views do not depend on batch order, worker count or an interrupted run.
std::vector<std::int64_t> epoch_views(const ViewSampling& sampling, std::uint64_t seed,
                                      std::uint64_t epoch, std::uint64_t clip_index);

}  // namespace vidprobe
