#include "vidprobe/data/view_sampling.h"

#include <algorithm>
#include <cmath>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

// round(linspace(0, context - 1, count)) with round-half-to-even, as torch.round.
std::vector<std::int64_t> evenly_spread(const ViewSampling& s) {
  std::vector<std::int64_t> views;
  for (int i = 0; i < s.count; ++i) {
    const double position =
        s.count == 1 ? 0.0 : static_cast<double>(i) * (s.context - 1) / (s.count - 1);
    views.push_back(static_cast<std::int64_t>(std::nearbyint(position)));
  }
  return views;
}

std::vector<std::int64_t> gapped(const ViewSampling& s, NumpyGenerator& generator) {
  const std::int64_t slack = s.context - (static_cast<std::int64_t>(s.count - 1) * s.min_gap + 1);
  std::vector<std::int64_t> cuts;
  for (int i = 0; i + 1 < s.count; ++i) cuts.push_back(generator.integers(0, slack + 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::int64_t> views{0};
  std::int64_t previous_cut = 0;
  for (std::int64_t cut : cuts) {
    views.push_back(views.back() + s.min_gap + (cut - previous_cut));
    previous_cut = cut;
  }
  return views;
}

}  // namespace

void validate(const ViewSampling& s) {
  require(s.count >= 0, "views.count must be >= 0, got " + std::to_string(s.count));
  if (s.count == 0) return;
  require(s.min_gap >= 0, "views.min_gap must be >= 0, got " + std::to_string(s.min_gap));
  require(s.snap >= 0, "views.snap must be >= 0, got " + std::to_string(s.snap));
  const std::int64_t needed = static_cast<std::int64_t>(s.count - 1) * s.min_gap + 1;
  require(s.context >= needed && s.context >= s.count,
          "views.context (" + std::to_string(s.context) + ") cannot hold " +
              std::to_string(s.count) + " views " + std::to_string(s.min_gap) + " frames apart");
  require(s.snap == 0 || s.min_gap >= s.snap || s.count == 1,
          "views.min_gap (" + std::to_string(s.min_gap) + ") must be at least views.snap (" +
              std::to_string(s.snap) + ") so that snapped views stay distinct");
}

std::vector<std::int64_t> draw_views(const ViewSampling& s, NumpyGenerator& generator) {
  validate(s);
  require(s.count > 0, "draw_views: views.count is 0 (every frame)");
  auto views = s.min_gap > 0 ? gapped(s, generator) : evenly_spread(s);
  if (s.snap > 0)
    for (auto& v : views)
      if (v > 0) v = (v - 1) / s.snap * s.snap + 1;
  return views;
}

std::vector<std::int64_t> fixed_views(const ViewSampling& s, std::uint64_t seed,
                                      std::uint64_t clip_index) {
  NumpyGenerator generator(seed + clip_index);
  return draw_views(s, generator);
}

std::vector<std::int64_t> epoch_views(const ViewSampling& s, std::uint64_t seed,
                                      std::uint64_t epoch, std::uint64_t clip_index) {
  NumpyGenerator generator(std::vector<std::uint64_t>{seed, epoch, clip_index});
  return draw_views(s, generator);
}

}  // namespace vidprobe
