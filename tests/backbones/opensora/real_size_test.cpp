// Open-Sora 2.0 at the published width against the official code on the GPU:
// `bench/official_reference.py make opensora DIR` writes a random MMDiT (the official
// constructor with the published config: hidden 3072, 19 double blocks, but only the 21 single
// blocks up to the paper's single_blocks[20]; config.json says so) in bf16 as
// Open_Sora_v2.safetensors, the Hunyuan VAE (published defaults) as hunyuan_vae.safetensors, and
// in float32: the VAE moments of a 33-frame 480 x 848 clip and of its first frame, the transformer
// input VidFM3D's extraction builds from them, and single_blocks[20]'s image tokens. Run with
// VIDPROBE_OPENSORA_PARITY_DIR=DIR on a GPU (scripts/gpu-official.sh). Skipped elsewhere.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <iostream>
#include <string>

#include "backbones/real_size_support.h"
#include "vidprobe/backbones/opensora/mmdit.h"
#include "vidprobe/backbones/opensora/vae.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::opensora {
namespace {

namespace rs = vidprobe::testing::real_size;

MmditInputs reference_inputs(const TensorMap& reference, torch::Device device, torch::Dtype dtype) {
  const auto at = [&](const std::string& key) { return reference.at(key).to(device, dtype); };
  return {at("latents"), at("cond"), at("txt"), at("y_vec"), at("timesteps")};
}

TEST(OpenSoraCuda, RealWidthVaeAndMmditMatchTheOfficialCode) {
  const auto dir = rs::parity_dir("VIDPROBE_OPENSORA_PARITY_DIR");
  const auto device = rs::parity_device();
  if (!dir || !device) GTEST_SKIP() << "set VIDPROBE_OPENSORA_PARITY_DIR on a GPU";
  const auto reference = load_safetensors(*dir / "parity.safetensors");
  const auto config = read_json_file(*dir / "config.json");
  const rs::ExactFloat32 exact;
  torch::NoGradGuard no_grad;

  Vae vae(vae_config_from_json(config.at("ae"), "config.json"));
  load_vae(vae, load_safetensors(*dir / "hunyuan_vae.safetensors"), "hunyuan_vae.safetensors");
  vae->to(*device, torch::kFloat32);
  vae->eval();
  const auto video = (reference.at("clip") * 2 - 1).permute({1, 0, 2, 3}).unsqueeze(0).to(*device);
  const double moments_error = rs::max_relative_error(vae->moments(video), reference.at("moments"));
  const double first_error =
      rs::max_relative_error(vae->moments(video.slice(2, 0, 1)), reference.at("first_moments"));
  vae = nullptr;  // its GPU memory before the MMDiT's

  const auto mmdit_config = mmdit_config_from_json(config.at("model"), "config.json");
  Mmdit mmdit(mmdit_config);
  load_mmdit(mmdit, load_safetensors(*dir / "Open_Sora_v2.safetensors"),
             "Open_Sora_v2.safetensors");
  mmdit->to(*device, torch::kFloat32);
  mmdit->eval();
  const int layer = mmdit_config.depth + 20;  // single_blocks[20]
  // Reference (T', H'/2, W'/2, D) -> the (1, N, D) image tokens.
  const auto expected = reference.at("single20_img").reshape({1, -1, mmdit_config.hidden_size});
  const auto fp32 =
      mmdit->run(reference_inputs(reference, *device, torch::kFloat32), {layer}).img[0];
  const double fp32_error = rs::max_relative_error(fp32, expected);
  const double fp32_abs = rs::max_abs_error(fp32, expected);
  mmdit->to(*device, torch::kBFloat16);
  const auto bf16 =
      mmdit->run(reference_inputs(reference, *device, torch::kBFloat16), {layer}).img[0];
  const double bf16_error = rs::max_relative_error(bf16, expected);
  const double bf16_norm_error = rs::norm_relative_error(bf16, expected);
  // The official model run in bf16 on the same input drifts from its float32 run too (random
  // weights through 40 blocks): vidprobe's bf16 drift is judged against that one.
  const double official_bf16_norm_error = rs::norm_relative_error(
      reference.at("single20_img_official_bf16").reshape({1, -1, mmdit_config.hidden_size}),
      expected);
  const auto& clip = reference.at("clip");
  std::cout << "{\"benchmark\": \"official_real_size_parity\", \"family\": \"opensora\", "
               "\"backbone\": \"opensora-v2\", \"layer\": "
            << layer << ", \"double_blocks\": " << mmdit_config.depth
            << ", \"single_blocks\": " << mmdit_config.depth_single_blocks
            << ", \"frames\": " << clip.size(0) << ", \"height\": " << clip.size(2)
            << ", \"width\": " << clip.size(3) << ", \"vae_moments_max_rel\": " << moments_error
            << ", \"vae_first_frame_max_rel\": " << first_error
            << ", \"block_fp32_max_abs\": " << fp32_abs
            << ", \"block_fp32_max_rel\": " << fp32_error
            << ", \"block_bf16_max_rel\": " << bf16_error
            << ", \"block_bf16_norm_rel\": " << bf16_norm_error
            << ", \"official_block_bf16_norm_rel\": " << official_bf16_norm_error << "}\n";
  EXPECT_LT(moments_error, 1e-4);
  EXPECT_LT(first_error, 1e-4);
  EXPECT_LT(fp32_error, 1e-3);
  EXPECT_LT(bf16_norm_error, std::max(2 * official_bf16_norm_error, 3e-2));
}

}  // namespace
}  // namespace vidprobe::backbones::opensora
