// V-JEPA (v1) ViT-L/16 at the published size against the official code on the GPU:
// `bench/official_reference.py make vjepa1 DIR` writes a random vit_large (the official
// constructor) as a pre-training checkpoint (vitl16.pth.tar) and the last block's tokens of one
// 16-frame 480 x 832 clip in float32; run with VIDPROBE_VJEPA1_PARITY_DIR=DIR on a GPU
// (scripts/gpu-official.sh). Skipped elsewhere.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <string>

#include "backbones/real_size_support.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones {
namespace {

namespace rs = vidprobe::testing::real_size;

TEST(VJEPA1Cuda, RealSizeVitL16MatchesTheOfficialCode) {
  const auto dir = rs::parity_dir("VIDPROBE_VJEPA1_PARITY_DIR");
  const auto device = rs::parity_device();
  if (!dir || !device) GTEST_SKIP() << "set VIDPROBE_VJEPA1_PARITY_DIR on a GPU";
  const auto reference = load_safetensors(*dir / "parity.safetensors");
  const auto& clip = reference.at("clip");  // (T, 3, H, W) in [0, 1]
  BackboneOptions options;
  options.weights = (*dir / "vitl16.pth.tar").string();
  options.device = *device;
  options.extra = {{"size", std::to_string(clip.size(2)) + "x" + std::to_string(clip.size(3))}};
  const rs::ExactFloat32 exact;
  torch::NoGradGuard no_grad;
  auto backbone = create_backbone("vjepa1-vitl16", options);
  backbone->to(*device, torch::kFloat32);
  const auto point = backbone->default_point();
  // The reference (T / 2, h, w, C) per tubelet; vidprobe's maps are per frame (T, C, h, w), the
  // two frames of a tubelet sharing one map.
  const auto expected = reference.at("last_block").permute({0, 3, 1, 2});
  const auto per_tubelet = torch::arange(0, clip.size(0), 2, torch::kLong);
  const auto fp32 =
      backbone->extract(clip.to(*device), point).features.index_select(0, per_tubelet.to(*device));
  const double fp32_error = rs::max_relative_error(fp32, expected);
  const double fp32_abs = rs::max_abs_error(fp32, expected);
  backbone->to(*device, torch::kBFloat16);
  const auto bf16 =
      backbone->extract(clip.to(*device), point).features.index_select(0, per_tubelet.to(*device));
  const double bf16_error = rs::max_relative_error(bf16, expected);
  const double bf16_norm_error = rs::norm_relative_error(bf16, expected);
  std::cout << "{\"benchmark\": \"official_real_size_parity\", \"family\": \"vjepa1\", "
               "\"backbone\": \"vjepa1-vitl16\", \"layer\": "
            << point.layer << ", \"frames\": " << clip.size(0) << ", \"height\": " << clip.size(2)
            << ", \"width\": " << clip.size(3) << ", \"fp32_max_abs\": " << fp32_abs
            << ", \"fp32_max_rel\": " << fp32_error << ", \"bf16_max_rel\": " << bf16_error
            << ", \"bf16_norm_rel\": " << bf16_norm_error << "}\n";
  EXPECT_EQ(point.layer, 23);
  EXPECT_LT(fp32_error, 1e-3);
  EXPECT_LT(bf16_norm_error, 3e-2);
}

}  // namespace
}  // namespace vidprobe::backbones
