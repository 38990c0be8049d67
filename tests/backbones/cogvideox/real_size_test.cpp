// CogVideoX-5B-I2V at the published size against diffusers on the GPU:
// `bench/cogvideox_reference.py make DIR` writes a random 5B-I2V in the diffusers layout with
// diffusers' float32 latents, transformer input and block-20 video states of one 49-frame 480 x 720
// clip; run with VIDPROBE_COGVIDEOX_PARITY_DIR=DIR on a GPU (scripts/gpu-cogvideox.sh). Skipped
// elsewhere.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "vidprobe/backbones/cogvideox/backbone.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox {
namespace {

namespace fs = std::filesystem;

constexpr int kLayer = 20;
constexpr int64_t kTimestep = 250;

double max_relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kCPU, torch::kFloat64), e = expected.to(torch::kFloat64);
  EXPECT_EQ(a.sizes(), e.sizes());
  if (a.sizes() != e.sizes()) return 1e9;
  return (a - e).abs().max().item<double>() / std::max(e.abs().max().item<double>(), 1e-30);
}

// ||actual - expected|| / ||expected||: bf16's rounding is judged over the whole map, not its worst
// element.
double norm_relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kCPU, torch::kFloat64), e = expected.to(torch::kFloat64);
  return ((a - e).norm() / e.norm().clamp_min(1e-30)).item<double>();
}

TEST(CogVideoXBackboneCuda, RealSize5bI2vMatchesDiffusers) {
  const char* dir = std::getenv("VIDPROBE_COGVIDEOX_PARITY_DIR");
  if (!dir || !torch::cuda::is_available())
    GTEST_SKIP() << "set VIDPROBE_COGVIDEOX_PARITY_DIR on a GPU";
  const fs::path root(dir);
  const auto reference = load_safetensors(root / "parity.safetensors");
  BackboneOptions options;
  options.weights = root.string();
  options.device = torch::kCUDA;
  FeatureOptions features;
  features.text_context = root / "context.safetensors";
  features.image_latents = ImageLatents::kMean;
  const bool tf32 = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuDNN(false);
  torch::NoGradGuard no_grad;
  auto backbone = load_cogvideox_backbone("cogvideox-5b-i2v", options, features);
  const auto encoded = backbone->encode(reference.at("clip").to(torch::kCUDA));
  const double latents_error = max_relative_error(encoded.latents, reference.at("latents"));
  EXPECT_LT(latents_error, 1e-4);
  const auto input =
      backbone->transformer_input(encoded, reference.at("noise").to(torch::kCUDA), {}, kTimestep);
  const double input_error = max_relative_error(input, reference.at("input"));
  EXPECT_LT(input_error, 1e-4);
  // Reference (F', h', w', dim) as the authors reshape it; vidprobe's maps are (F', dim, h', w').
  const auto expected = reference.at("block20").permute({0, 3, 1, 2});
  const auto fed = reference.at("input").to(torch::kCUDA);
  const double fp32_error =
      max_relative_error(backbone->video_maps(fed, kTimestep, {kLayer})[0], expected);
  EXPECT_LT(fp32_error, 1e-3);
  backbone->to(torch::kCUDA, torch::kBFloat16);
  const auto bf16 = backbone->video_maps(fed, kTimestep, {kLayer})[0];
  const double bf16_error = max_relative_error(bf16, expected);
  const double bf16_norm_error = norm_relative_error(bf16, expected);
  EXPECT_LT(bf16_norm_error, 3e-2);
  at::globalContext().setAllowTF32CuDNN(tf32);
  std::cout << "{\"benchmark\": \"cogvideox_real_size_parity\", \"backbone\": "
               "\"cogvideox-5b-i2v\", \"layer\": "
            << kLayer << ", \"timestep\": " << kTimestep
            << ", \"latents_max_rel\": " << latents_error << ", \"input_max_rel\": " << input_error
            << ", \"block_fp32_max_rel\": " << fp32_error
            << ", \"block_bf16_max_rel\": " << bf16_error
            << ", \"block_bf16_norm_rel\": " << bf16_norm_error << "}\n";
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
