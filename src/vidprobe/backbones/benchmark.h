#pragma once
// Backbone throughput: clips/s of a registered backbone on a device, random input, after warm-up.
#include <torch/torch.h>

#include <cstdint>
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
};

// {"backbone", "device", "dtype", "frames", "height", "width", "clips_per_s", "ms_per_clip"}
nlohmann::json benchmark_backbone(const BackboneBenchOptions& options);

}  // namespace vidprobe::backbones
