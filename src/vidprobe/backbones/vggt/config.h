#pragma once
// VGGT's hyper-parameters as plain values, and the JSON form `vidprobe annotate --model-config`
// and the fixtures use, without libtorch (the fuzz build parses it).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/nn/vit_config.h"

namespace vidprobe::backbones {

struct VggtConfig {
  int image_size = 518;  // the position embedding's training size (37 x 37 grid)
  int patch_size = 14;
  int width = 1024;  // aggregator token width; the intermediates are 2 x width (frame | global)
  int depth = 24;    // frame blocks = global blocks = depth
  int heads = 16;
  double mlp_ratio = 4.0;
  int register_tokens = 4;
  double rope_frequency = 100;
  double layer_scale_init = 0.01;
  nn::ViTConfig patch_embed;  // DINOv2-L/14 with 4 registers, antialiased position resampling
  std::vector<int> dpt_layers{4, 11, 17, 23};
  int dpt_features = 256;
  std::vector<int> dpt_out_channels{256, 512, 1024, 1024};
  int camera_trunk_depth = 4;
  int camera_heads = 16;
  int camera_iterations = 4;
};

// The released VGGT-1B (facebook/VGGT-1B).
VggtConfig vggt_1b_config();
// Throws vidprobe::Error naming the field when the configuration is inconsistent.
void validate(const VggtConfig& config);
std::string architecture_text(const VggtConfig& config);

// The configuration fields as written in tests/fixtures/backbones/vggt/meta.json ("small"):
// image_size, patch_size, width, depth, heads, mlp_ratio, register_tokens, rope_frequency,
// layer_scale_init, patch_embed {width, depth, heads, mlp_ratio}, dpt_layers, dpt_features,
// dpt_out_channels, camera_trunk_depth, camera_heads, camera_iterations. Missing keys keep the
// VGGT-1B values; unknown keys are errors naming them.
VggtConfig vggt_config_from_json(const nlohmann::json& json);
VggtConfig load_vggt_config(const std::filesystem::path& path);

}  // namespace vidprobe::backbones
