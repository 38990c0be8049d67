#pragma once
// The constant baseline a probe has to beat: per frame index and pixel, the mean normalised GT
// depth and point map over the training clips (valid pixels only; pixels never valid get the
// overall mean), and the mean normalised pose encoding (quaternion renormalised). It predicts
// the same thing for every clip, so whatever a probe gains over it comes from the features.
#include <torch/torch.h>

#include <filesystem>

#include "vidprobe/probe/clip_source.h"
#include "vidprobe/probe/probe_model.h"
#include "vidprobe/probe/views.h"

namespace vidprobe::probe {

struct MeanPredictor {
  torch::Tensor depth;          // (S, H, W)
  torch::Tensor world_points;   // (S, H, W, 3)
  torch::Tensor pose_encoding;  // (S, 9)

  // The constant prediction for a batch of B clips (confidences 1).
  nn::GeometryPrediction predict(int64_t batch, torch::Device device) const;
  void save(const std::filesystem::path& path) const;
  static MeanPredictor load(const std::filesystem::path& path);
};

// One pass over the clips (they must share one geometry), each read through its evaluation
// views (the stored frames, or the fixed views of the run's view plan).
MeanPredictor fit_mean_predictor(const ClipSource& clips, const ViewPlan& views);

}  // namespace vidprobe::probe
