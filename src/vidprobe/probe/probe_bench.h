#pragma once
// Probe training speed: optimisation steps per second of a probe on random features and a
// synthetic scene, after warm-up. bench/probe_reference.py builds the same architecture in
// PyTorch Python and times the same step, so the two figures can be compared.
#include <nlohmann/json.hpp>
#include <string>

namespace vidprobe::probe {

struct ProbeBenchOptions {
  std::string config_file;  // empty: the default (paper) configuration
  std::string device = "cpu";
  int batch = 2;
  int frames = 4;
  int feature_dim = 1024;  // e.g. a ViT-L backbone
  int grid = 16;           // h = w of the feature maps
  int size = 112;          // H = W of the ground truth
  int warmup = 1;
  int steps = 5;
  int threads = 0;  // CPU threads; 0 = libtorch's default
};

// {"benchmark": "probe_train_step", "device", "steps_per_s", "ms_per_step", "parameters",
//  "batch", "frames", "feature_dim", "grid", "size", "threads", "config"}
nlohmann::json run_probe_benchmark(const ProbeBenchOptions& options);

}  // namespace vidprobe::probe
