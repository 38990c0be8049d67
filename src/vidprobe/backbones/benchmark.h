#pragma once
// Backbone throughput: clips/s of a registered backbone on a device, random input, after warm-up.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace vidprobe::backbones {

struct BackboneBenchOptions {
  std::string backbone = "random-vit";
  std::string weights;  // empty: random initialisation at the real size
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;
  int frames = 4;
  int layer = -1;
  int warmup = 2;
  int iterations = 5;
  std::map<std::string, std::string> extra;  // the family's --backbone-opt settings
  // Non-empty: one more clip after the timed ones runs under the kernel profiler
  // (nn/kernel_profile.h), which writes kernels.json and trace.json (Chrome trace) here.
  std::filesystem::path profile_dir;
};

// {"backbone", "device", "dtype", "frames", "height", "width", "clips_per_s", "ms_per_clip",
//  "peak_allocated_gb", "stages"}, plus "profile" (total kernel time and the 10 largest) when
// profiling. After the timed clips, iterations / 2 (at least 1) more run under a StageMeter
// (nn/stage_meter.h): "stages" holds each stage's ms and counted TFLOPs per clip, and where the
// backbone has a transformer stage "tflop_per_clip", "mfu" (its FLOPs at the clips/s figure) and
// "transformer_mfu" (over the stage's own time), against "mfu_peak_tflops" (989, H100/H200 dense
// bf16, whatever the dtype run).
nlohmann::json benchmark_backbone(const BackboneBenchOptions& options);

}  // namespace vidprobe::backbones
