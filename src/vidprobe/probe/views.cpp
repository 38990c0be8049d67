#include "vidprobe/probe/views.h"

#include "vidprobe/core/error.h"

namespace vidprobe::probe {

int64_t ViewPlan::frames_per_clip(int64_t stored) const {
  return drawn() ? config_.sampling.count : stored;
}

std::vector<int64_t> ViewPlan::checked(const features::FeatureShard& clip,
                                       std::vector<int64_t> views) const {
  require(clip.num_frames() >= config_.sampling.context,
          "clip '" + clip.clip_id + "' has " + std::to_string(clip.num_frames()) +
              " frames, but the probe draws its views from the first " +
              std::to_string(config_.sampling.context) +
              " (views.context): extract whole clips (e.g. --frames 81) or lower views.context");
  return views;
}

std::vector<int64_t> ViewPlan::training(const features::FeatureShard& clip, std::size_t position,
                                        std::uint64_t epoch) const {
  if (!drawn()) return {};
  return checked(clip, epoch_views(config_.sampling, train_seed_, epoch, position));
}

std::vector<int64_t> ViewPlan::evaluation(const features::FeatureShard& clip, std::size_t position,
                                          std::uint64_t pass) const {
  if (!drawn()) return {};
  if (config_.val == "drift")
    return checked(clip, epoch_views(config_.sampling, config_.val_seed, pass, position));
  return checked(clip, fixed_views(config_.sampling, config_.val_seed, position));
}

geometry::ScaleFrom ViewPlan::scale_from() const {
  return config_.normalization == "first_view" ? geometry::ScaleFrom::kFirstView
                                               : geometry::ScaleFrom::kAllViews;
}

features::FeatureShard with_views(const features::FeatureShard& clip,
                                  const std::vector<int64_t>& frames) {
  return frames.empty() ? clip : features::select_frames(clip, frames);
}

}  // namespace vidprobe::probe
