#pragma once
// Shared by the parity tests of the checkpoint-backed backbones: fixture access (written by
// tools/make_backbone_fixtures.py) and the comparison against transformers' hidden states.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/backbones/videomae/videomae.h"
#include "vidprobe/backbones/vjepa/vjepa2.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/nn/vit.h"

namespace vidprobe::backbones::testing {

// The configurations of the fixtures (tools/make_backbone_fixtures.py).
inline nn::ViTConfig tiny_dinov2_config() {  // case "tiny"
  nn::ViTConfig c;
  c.image_size = 42;
  c.patch_size = 14;
  c.width = 24;
  c.depth = 3;
  c.heads = 2;
  c.mlp_ratio = 2.0;
  return c;
}

// The fixtures' small video ViT: `width` wide, 3 blocks of 2 heads, patch 8 over 24 pixels, 4
// frames, MLP ratio 2 unless the family's own ratio is kept (`mlp_ratio` empty).
inline VideoViTConfig tiny_video_vit(VideoViTConfig c, int64_t width,
                                     std::optional<double> mlp_ratio = 2.0) {
  c.vit.image_size = 24;
  c.vit.patch_size = 8;
  c.vit.width = width;
  c.vit.depth = 3;
  c.vit.heads = 2;
  if (mlp_ratio) c.vit.mlp_ratio = *mlp_ratio;
  c.frames = 4;
  return c;
}

inline VideoViTConfig tiny_videomae_config() {
  return tiny_video_vit(videomae_config("videomae-base"), 24);
}

inline VideoViTConfig tiny_vjepa2_config() {  // head_dim 16
  return tiny_video_vit(vjepa2_config("vjepa2-vitl-fpc64-256"), 32);
}

inline std::filesystem::path fixture(const std::string& family, const std::string& file) {
  return std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "backbones" / family / file;
}

// The fixture clips are uint8; the reference models saw value / 255 in float32.
inline torch::Tensor fixture_clip(const std::string& family, const std::string& name) {
  return load_safetensors(fixture(family, "inputs.safetensors")).at(name).to(torch::kFloat32) / 255;
}

inline TensorMap fixture_reference(const std::string& family, const std::string& config_case) {
  return load_safetensors(fixture(family, config_case + "_reference.safetensors"));
}

// The registered backbone names of a family, in registry order.
inline std::vector<std::string> registered_names(const std::string& family) {
  std::vector<std::string> names;
  for (const auto& info : registered_backbones())
    if (info.family == family) names.push_back(info.name);
  return names;
}

inline nlohmann::json fixture_real_sizes(const std::string& family) {
  std::ifstream in(fixture(family, "real_sizes.json"));
  return nlohmann::json::parse(in);
}

// max |a - b| / max |b|: the error relative to the scale of the reference activations.
// A real-size layout against the reference constructor's entry of real_sizes.json: parameter
// count, every listed key's shape, and the key count where the entry records it.
inline void expect_layout_matches(const ShapeMap& layout, const nlohmann::json& reference) {
  EXPECT_EQ(element_count(layout), reference["parameters"].get<int64_t>());
  if (reference.contains("keys")) {
    EXPECT_EQ(static_cast<int64_t>(layout.size()), reference["keys"].get<int64_t>());
  }
  for (const auto& [key, shape] : reference["shapes"].items()) {
    ASSERT_TRUE(layout.contains(key)) << key;
    EXPECT_EQ(layout.at(key), shape.get<Shape>()) << key;
  }
}

using test_support::relative_error;

// fp32 parity with the reference implementations on the tiny fixtures.
constexpr double kParityTolerance = 1e-4;

// Reference tokens (T, prefix + h * w, C) of an image model -> (T, C, h, w) feature maps.
inline torch::Tensor image_token_maps(const torch::Tensor& hidden, int64_t prefix, int64_t h,
                                      int64_t w) {
  const auto T = hidden.size(0), C = hidden.size(2);
  return hidden.slice(1, prefix).transpose(1, 2).reshape({T, C, h, w});
}

// Reference tokens (1, t * h * w, C) of a video model in (t, y, x) order -> (t, C, h, w).
inline torch::Tensor video_token_maps(const torch::Tensor& hidden, int64_t t, int64_t h,
                                      int64_t w) {
  return hidden[0].reshape({t, h, w, hidden.size(2)}).permute({0, 3, 1, 2});
}

// Every block of an image backbone (one map per frame, `prefix` class/register tokens) against
// the reference hidden states for the fixture inputs `clip`, `wide`, `tall`. Returns the largest
// relative error.
inline double image_parity(Backbone& backbone, const std::string& family,
                           const std::string& config_case, int64_t prefix, double tolerance) {
  const auto reference = fixture_reference(family, config_case);
  double worst = 0;
  for (const std::string input : {"clip", "wide", "tall"}) {
    const auto clip = fixture_clip(family, input);
    const int64_t p = backbone.input_spec().patch_size, h = clip.size(2) / p, w = clip.size(3) / p;
    for (int layer = 0; layer < backbone.num_layers(); ++layer) {
      const auto maps = backbone.extract(clip, point_at_layer(layer));
      const auto& expected = reference.at(input + ".hidden_states." + std::to_string(layer + 1));
      EXPECT_EQ(maps.features.sizes(),
                (std::vector<int64_t>{clip.size(0), backbone.feature_dim(), h, w}));
      EXPECT_EQ(maps.native_grid, (std::vector<int64_t>{clip.size(0), h, w}));
      const double error = relative_error(maps.features, image_token_maps(expected, prefix, h, w));
      EXPECT_LT(error, tolerance) << config_case << " input " << input << " block " << layer;
      worst = std::max(worst, error);
    }
  }
  return worst;
}

// Every block of a video backbone against the reference hidden states for the fixture inputs
// (4 and 6 frames at the native size, 4 frames at a smaller size): frame f must carry the map of
// temporal token f / tubelet. Returns the largest relative error.
inline double video_parity(Backbone& backbone, const std::string& family,
                           const std::string& config_case, int tubelet, double tolerance) {
  const auto reference = fixture_reference(family, config_case);
  double worst = 0;
  for (const std::string input : {"clip", "long", "small"}) {
    const auto clip = fixture_clip(family, input);
    const int64_t frames = clip.size(0), p = backbone.input_spec().patch_size;
    const int64_t t = frames / tubelet, h = clip.size(2) / p, w = clip.size(3) / p;
    for (int layer = 0; layer < backbone.num_layers(); ++layer) {
      const auto maps = backbone.extract(clip, point_at_layer(layer));
      EXPECT_EQ(maps.features.sizes(),
                (std::vector<int64_t>{frames, backbone.feature_dim(), h, w}));
      EXPECT_EQ(maps.native_grid, (std::vector<int64_t>{t, h, w}));
      const auto expected = video_token_maps(
          reference.at(input + ".hidden_states." + std::to_string(layer + 1)), t, h, w);
      for (int64_t f = 0; f < frames; ++f) {
        const double error = relative_error(maps.features[f], expected[f / tubelet]);
        EXPECT_LT(error, tolerance)
            << config_case << " input " << input << " block " << layer << " frame " << f;
        worst = std::max(worst, error);
      }
    }
  }
  return worst;
}

inline std::string scientific(double value) {
  std::ostringstream out;
  out << std::scientific << value;
  return out.str();
}

using test_support::error_message;

// Options that load `path` with everything else at its default.
inline BackboneOptions with_weights(const std::filesystem::path& path) {
  BackboneOptions options;
  options.weights = path.string();
  return options;
}

// A file name in this test process's own folder, which goes when the process ends.
inline std::filesystem::path temporary_path(const std::string& name) {
  return test_support::process_temp_root() / name;
}

}  // namespace vidprobe::backbones::testing
