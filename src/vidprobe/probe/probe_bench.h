#pragma once
// Probe training speed: optimisation steps per second of a probe on random features and a
// synthetic scene, after warm-up. The references time the same step in PyTorch: for the vidfm3d
// preset the authors' own code (bench/vidfm3d_reference.py), for the vidprobe preset the same
// architecture written in PyTorch Python (bench/probe_reference.py).
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace vidprobe::probe {

struct ProbeBenchOptions {
  std::string preset = "vidfm3d";
  std::string config_file;  // optional overrides of the preset
  torch::Device device = torch::kCPU;
  int batch = 2;
  int frames = 4;
  int feature_dim = 1024;         // e.g. a ViT-L backbone
  int grid_h = 16, grid_w = 16;   // feature maps
  int height = 112, width = 112;  // ground truth
  int warmup = 1;
  int steps = 5;
  int threads = 0;                             // CPU threads; 0 = libtorch's default
  std::optional<bool> gradient_checkpointing;  // overrides model.gradient_checkpointing
  std::optional<int> checkpoint_blocks;        // overrides model.checkpoint_blocks
  std::filesystem::path profile_dir;  // non-empty: one more step profiled kernel by kernel here
};

// {"benchmark": "probe_train_step", "preset", "device", "steps_per_s", "ms_per_step",
//  "parameters", "batch", "frames", "feature_dim", "grid": [h, w], "size": [H, W], "threads",
//  "peak_gb" (CUDA), "gradient_checkpointing", "checkpoint_blocks", "cudnn_benchmark", "config",
//  and "profile" (nn::profile_into_directory)
//  with a profile_dir}
nlohmann::json run_probe_benchmark(const ProbeBenchOptions& options);

}  // namespace vidprobe::probe
