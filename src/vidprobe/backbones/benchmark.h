#pragma once
// Backbone throughput: clips/s of a registered backbone on a device, random input, after warm-up.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace vidprobe::backbones {

struct BackboneBenchOptions {
  std::string backbone = "random-vit";
  std::string weights;  // empty: random initialisation at the real size
  std::string device = "cpu";
  std::string dtype = "fp32";  // fp32 | bf16 | fp16
  int frames = 4;
  int layer = -1;
  int warmup = 2;
  int iterations = 5;
};

// {"backbone", "device", "dtype", "frames", "height", "width", "clips_per_s", "ms_per_clip"}
nlohmann::json benchmark_backbone(const BackboneBenchOptions& options);

}  // namespace vidprobe::backbones
