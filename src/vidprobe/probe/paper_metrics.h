#pragma once
// The paper's metric block (metrics/vidfm3d_metrics.h) of a probe over a set of clips, as the
// authors' validation logs it: camera pair errors pooled over clips (Auc_30, Auc_10, Auc_5, Auc_3,
// Rac_5, Rac_15, Tac_5, Tac_15), the GT-confidence-weighted aligned point error
// (pmap_mse_aligned) and depth error (loss_depth) averaged over clips. Everything is measured in
// the run's normalised frame, against the normalised GT cameras, as theirs.
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "vidprobe/metrics/vidfm3d_metrics.h"
#include "vidprobe/probe/batch.h"
#include "vidprobe/probe/probe_model.h"

namespace vidprobe::probe {

class PaperMetrics {
 public:
  // One clip's contribution: what the pooled and averaged values are made of.
  struct Clip {
    std::optional<metrics::Vidfm3dPairErrors> pairs;  // clips of 2 frames or more
    double point_error = 0, depth_error = 0;
  };
  // Clip `index` of the batch.
  static Clip measure(const nn::GeometryPrediction& prediction, const ProbeBatch& batch,
                      int64_t index);
  // Adds every clip of the batch.
  void add(const nn::GeometryPrediction& prediction, const ProbeBatch& batch);
  void add(const Clip& clip);
  bool empty() const { return clips_ == 0; }
  // {"Auc_30": ..., ..., "pmap_mse_aligned": ..., "loss_depth": ..., "num_clips": n}
  nlohmann::json to_json() const;

 private:
  std::vector<metrics::Vidfm3dPairErrors> pairs_;
  double point_sum_ = 0, depth_sum_ = 0;
  std::int64_t clips_ = 0;
};

}  // namespace vidprobe::probe
