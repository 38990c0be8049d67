// The CogVideoX VAE's tiled encode at the published size against diffusers' own on the GPU:
// `bench/cogvideox_reference.py tiled DIR` (after `make DIR`) writes DIR/tiled.safetensors with
// the parity clip and diffusers' posterior parameters after enable_tiling() without arguments
// (240 x 360 pixel tiles at 480 x 720: the authors' Aether setting), in float32 with TF32 off and
// with the VAE cast to bf16, plus the untiled float32 encode. Run with
// VIDPROBE_COGVIDEOX_TILED_DIR=DIR on a GPU (scripts/gpu-cogvideox.sh with
// VIDPROBE_COGVIDEOX_TILED=1); skipped elsewhere. The small-size parity of the same code is
// vae_tiling_test.cpp, which runs in CI.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "backbones/real_size_support.h"
#include "vidprobe/backbones/cogvideox/vae.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox {
namespace {

namespace rs = vidprobe::testing::real_size;

Vae tiled_vae(const std::filesystem::path& vae_dir, const torch::Device& device) {
  const auto config_file = vae_dir / "config.json";
  const auto config = vae_config_from_json(read_json_file(config_file), config_file.string());
  Vae vae(config, /*with_decoder=*/false, diffusers_vae_tiling(config));
  load_vae_encoder(vae, load_checkpoint(vae_dir), vae_dir.string());
  vae->eval();
  vae->to(device);
  return vae;
}

TEST(CogVideoXVaeCuda, TiledEncodeAtRealSizeMatchesDiffusers) {
  const auto dir = rs::parity_dir("VIDPROBE_COGVIDEOX_TILED_DIR");
  const auto device = rs::parity_device();
  if (!dir || !device) GTEST_SKIP() << "set VIDPROBE_COGVIDEOX_TILED_DIR on a GPU";
  const auto reference = load_safetensors(*dir / "tiled.safetensors");
  const rs::ExactFloat32 exact;
  torch::NoGradGuard no_grad;
  auto vae = tiled_vae(*dir / "vae", *device);
  // (T, 3, H, W) in [0, 1] -> (1, 3, T, H, W) in [-1, 1], as the pipelines hand it to encode.
  const auto video = (reference.at("clip") * 2 - 1).permute({1, 0, 2, 3}).unsqueeze(0).to(*device);
  const auto moments = vae->encode_moments(video);
  const double fp32_error = rs::max_relative_error(moments, reference.at("moments_fp32"));
  // The negative control: vidprobe's tiled moments against diffusers' untiled ones.
  const double untiled_error = rs::max_relative_error(moments, reference.at("untiled_fp32"));
  vae->to(torch::kBFloat16);
  const auto bf16 = vae->encode_moments(video.to(torch::kBFloat16));
  const double bf16_norm_error = rs::norm_relative_error(bf16, reference.at("moments_bf16"));
  // bf16 against float32, vidprobe's and diffusers' alike (the reference line prints its own):
  // two bf16 implementations need not round alike, but each should sit as far from float32.
  const double bf16_vs_fp32 = rs::norm_relative_error(bf16, reference.at("moments_fp32"));
  const double bf16_vs_fp32_max = rs::max_relative_error(bf16, reference.at("moments_fp32"));
  std::cout << "{\"benchmark\": \"cogvideox_tiled_parity\", \"frames\": " << video.size(2)
            << ", \"height\": " << video.size(3) << ", \"width\": " << video.size(4)
            << ", \"tile\": [" << vae->tiling()->tile_height << ", " << vae->tiling()->tile_width
            << "], \"moments_fp32_max_rel\": " << fp32_error
            << ", \"tiled_vs_untiled_reference_max_rel\": " << untiled_error
            << ", \"moments_bf16_norm_rel_to_reference_bf16\": " << bf16_norm_error
            << ", \"moments_bf16_norm_rel_to_reference_fp32\": " << bf16_vs_fp32
            << ", \"moments_bf16_max_rel_to_reference_fp32\": " << bf16_vs_fp32_max << "}\n";
  EXPECT_LT(fp32_error, 1e-4);
  // A frame within one tile is not tiled (the --tiny dry run's 32 x 48): no control then.
  if (video.size(3) > vae->tiling()->tile_height || video.size(4) > vae->tiling()->tile_width) {
    EXPECT_GT(untiled_error, 1e-3);
  }
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
