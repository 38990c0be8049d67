// Fast3R ViT-L (jedyang97/Fast3R_ViT_Large_512's configuration) at the published size against the
// official code on the GPU: `bench/official_reference.py make fast3r DIR` writes a random Fast3R
// (the official constructor, DPT heads included) in the hub layout (model.safetensors,
// config.json) and the decoder's map 24 for an 81-frame 288 x 512 clip in float32, with the
// image indices the official decoder drew; run with VIDPROBE_FAST3R_PARITY_DIR=DIR on a GPU
// (scripts/gpu-official.sh). Skipped elsewhere.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <string>

#include "backbones/real_size_support.h"
#include "vidprobe/backbones/fast3r/backbone.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::fast3r {
namespace {

namespace rs = vidprobe::testing::real_size;

TEST(Fast3RCuda, RealSizeVitLargeMatchesTheOfficialCode) {
  const auto dir = rs::parity_dir("VIDPROBE_FAST3R_PARITY_DIR");
  const auto device = rs::parity_device();
  if (!dir || !device) GTEST_SKIP() << "set VIDPROBE_FAST3R_PARITY_DIR on a GPU";
  const auto reference = load_safetensors(*dir / "parity.safetensors");
  const auto& clip = reference.at("clip");  // (S, 3, H, W) in [0, 1]
  const auto seed = reference.at("image_index_seed").item<int64_t>();
  BackboneOptions options;
  options.weights = (*dir / "model.safetensors").string();  // config.json beside it is read
  options.device = *device;
  options.extra = {{"size", std::to_string(clip.size(2)) + "x" + std::to_string(clip.size(3))},
                   {"image_ids", "random"},
                   {"image_index_seed", std::to_string(seed)}};
  const rs::ExactFloat32 exact;
  torch::NoGradGuard no_grad;
  auto backbone = create_backbone("fast3r-vitl16-512", options);
  backbone->to(*device, torch::kFloat32);
  const auto& fast3r = dynamic_cast<const Fast3rBackbone&>(*backbone);
  const auto point = backbone->default_point();
  EXPECT_TRUE(
      torch::equal(fast3r.image_indices(clip.size(0), point).cpu(), reference.at("image_ids")));
  // Reference (S, h, w, C); vidprobe's maps (S, C, h, w).
  const auto expected = reference.at("map24").permute({0, 3, 1, 2});
  const auto fp32 = backbone->extract(clip.to(*device), point).features;
  const double fp32_error = rs::max_relative_error(fp32, expected);
  const double fp32_abs = rs::max_abs_error(fp32, expected);
  backbone->to(*device, torch::kBFloat16);
  const auto bf16 = backbone->extract(clip.to(*device), point).features;
  const double bf16_error = rs::max_relative_error(bf16, expected);
  const double bf16_norm_error = rs::norm_relative_error(bf16, expected);
  std::cout << "{\"benchmark\": \"official_real_size_parity\", \"family\": \"fast3r\", "
               "\"backbone\": \"fast3r-vitl16-512\", \"layer\": "
            << point.layer << ", \"frames\": " << clip.size(0) << ", \"height\": " << clip.size(2)
            << ", \"width\": " << clip.size(3) << ", \"image_index_seed\": " << seed
            << ", \"fp32_max_abs\": " << fp32_abs << ", \"fp32_max_rel\": " << fp32_error
            << ", \"bf16_max_rel\": " << bf16_error << ", \"bf16_norm_rel\": " << bf16_norm_error
            << "}\n";
  EXPECT_EQ(point.layer, 24);
  EXPECT_LT(fp32_error, 1e-3);
  EXPECT_LT(bf16_norm_error, 3e-2);
}

}  // namespace
}  // namespace vidprobe::backbones::fast3r
