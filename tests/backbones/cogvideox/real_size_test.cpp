// CogVideoX (5B-I2V, 5B, 2B) and AetherV1 at the published size against their reference code on
// the GPU: `bench/cogvideox_reference.py make DIR --variant V` writes a random model (built by
// the reference's own constructor) in the diffusers layout with the reference's float32 view of
// one clip: diffusers' latents, transformer input and block-20 video states of a 49-frame
// 480 x 720 clip (CogVideoX), or the official Aether pipeline's run of the authors' videogen
// protocol on a 41-frame clip (latents, the 4-step reconstruction's geometry latents, the
// transformer input, block 20, and the seed of its noise stream). Run with the variant's
// VIDPROBE_*_PARITY_DIR=DIR on a GPU (scripts/gpu-cogvideox.sh); skipped elsewhere
// (VIDPROBE_OFFICIAL_PARITY_CPU=1 runs it on the CPU against `make --tiny` output).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "backbones/real_size_support.h"
#include "vidprobe/backbones/cogvideox/aether.h"
#include "vidprobe/backbones/cogvideox/backbone.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox {
namespace {

namespace rs = vidprobe::testing::real_size;

constexpr int kLayer = 20;
constexpr int64_t kTimestep = 250;

struct RealSizeVariant {
  const char* backbone;  // vidprobe's registry name
  const char* variable;  // the environment variable naming the parity directory
  const char* param;     // the test name's suffix (scripts/gpu-cogvideox.sh filters on it)
};

// GoogleTest prints a parameter without a printer as its bytes (here three pointers), which then
// change from build to build in the test's name; the registry name is the readable, stable one.
void PrintTo(const RealSizeVariant& variant, std::ostream* out) {
  *out << variant.backbone;
}

class CogVideoXBackboneCuda : public ::testing::TestWithParam<RealSizeVariant> {};

TEST_P(CogVideoXBackboneCuda, RealSizeMatchesTheReference) {
  const auto& variant = GetParam();
  const auto dir = rs::parity_dir(variant.variable);
  const auto device = rs::parity_device();
  if (!dir || !device) GTEST_SKIP() << "set " << variant.variable << " on a GPU";
  const auto reference = load_safetensors(*dir / "parity.safetensors");
  const auto& clip = reference.at("clip");  // (T, 3, H, W) in [0, 1]
  // Directories made before the variants were added lack "layer": block 20.
  const int layer =
      reference.count("layer") ? static_cast<int>(reference.at("layer").item<int64_t>()) : kLayer;
  const int64_t timestep = reference.at("timestep").item<int64_t>();
  const bool aether = std::string(variant.backbone) == kAetherName;
  const rs::ExactFloat32 exact;
  torch::NoGradGuard no_grad;
  BackboneOptions options;
  options.weights = dir->string();
  options.device = *device;
  std::unique_ptr<Backbone> owner;
  if (aether) {
    options.extra = {{"text_context", (*dir / "context.safetensors").string()},
                     {"size", std::to_string(clip.size(2)) + "x" + std::to_string(clip.size(3))}};
    owner = make_aether_backbone(options);
  } else {
    FeatureOptions features;
    features.text_context = *dir / "context.safetensors";
    features.height = static_cast<int>(clip.size(2));
    features.width = static_cast<int>(clip.size(3));
    features.image_latents = ImageLatents::kMean;  // I2V: no sampling noise to share
    owner = load_cogvideox_backbone(variant.backbone, options, features);
  }
  auto& backbone = dynamic_cast<CogVideoXBackbone&>(*owner);
  const auto encoded = backbone.encode(clip.to(*device));
  const double latents_error = rs::max_relative_error(encoded.latents, reference.at("latents"));
  torch::Tensor input;
  double geometry_error = 0;
  std::uint64_t seed = 0;
  if (aether) {
    // The pipeline's draws in its order from the stored seed (NoiseStream): the reconstruction's,
    // then frame 0's posterior eps, then the feature pass's noise.
    seed = static_cast<std::uint64_t>(reference.at("seed").item<int64_t>());
    NoiseStream stream(seed);
    const auto geometry = backbone.reconstruct_geometry(encoded, stream);
    geometry_error = rs::max_relative_error(geometry, reference.at("geometry"));
    auto image_shape = encoded.image_moments.sizes().vec();
    image_shape[1] /= 2;
    const auto image_noise = stream.next(image_shape).to(*device);
    auto noise_shape = encoded.latents.sizes().vec();
    noise_shape[2] = backbone.layout().output_channels();
    const auto noise = stream.next(noise_shape);
    // The reference's geometry: the input is judged apart from the reconstruction.
    input = backbone.transformer_input(encoded, noise, image_noise, timestep,
                                       reference.at("geometry").to(*device));
  } else {
    input = backbone.transformer_input(encoded, reference.at("noise").to(*device), {}, timestep);
  }
  const double input_error = rs::max_relative_error(input, reference.at("input"));
  // Reference (F', h', w', dim) as the authors reshape it; vidprobe's maps are (F', dim, h', w').
  const auto expected = reference.at("block" + std::to_string(layer)).permute({0, 3, 1, 2});
  const auto fed = reference.at("input").to(*device);
  const double fp32_error =
      rs::max_relative_error(backbone.video_maps(fed, timestep, {layer})[0], expected);
  backbone.to(*device, torch::kBFloat16);
  const auto bf16 = backbone.video_maps(fed, timestep, {layer})[0];
  const double bf16_error = rs::max_relative_error(bf16, expected);
  const double bf16_norm_error = rs::norm_relative_error(bf16, expected);
  std::cout << "{\"benchmark\": \"cogvideox_real_size_parity\", \"backbone\": \""
            << variant.backbone << "\", \"layer\": " << layer << ", \"timestep\": " << timestep
            << ", \"frames\": " << clip.size(0) << ", \"height\": " << clip.size(2)
            << ", \"width\": " << clip.size(3) << ", \"latents_max_rel\": " << latents_error
            << ", \"input_max_rel\": " << input_error;
  if (aether) {
    // What `extract` gives in bf16 from the seed alone (the reconstruction in bf16 too): reported,
    // not judged.
    ExtractionPoint point;
    point.layer = layer;
    point.timestep = static_cast<int>(timestep);
    point.noise_seed = seed;
    const auto maps = backbone.extract(clip.to(*device), point);
    const double end_to_end_error =
        rs::norm_relative_error(maps.features, expected.index_select(0, maps.frame_index));
    std::cout << ", \"seed\": " << seed << ", \"geometry_fp32_max_rel\": " << geometry_error
              << ", \"extract_bf16_norm_rel\": " << end_to_end_error;
  }
  std::cout << ", \"block_fp32_max_rel\": " << fp32_error
            << ", \"block_bf16_max_rel\": " << bf16_error
            << ", \"block_bf16_norm_rel\": " << bf16_norm_error << "}\n";
  EXPECT_EQ(timestep, kTimestep);
  if (clip.size(2) == 480) {
    EXPECT_EQ(layer, kLayer);  // real size (not a --tiny dry run)
  }
  EXPECT_LT(latents_error, 1e-4);
  EXPECT_LT(input_error, 1e-4);
  if (aether) {
    EXPECT_LT(geometry_error, 1e-3);
  }
  EXPECT_LT(fp32_error, 1e-3);
  EXPECT_LT(bf16_norm_error, 3e-2);
}

INSTANTIATE_TEST_SUITE_P(
    RealSize, CogVideoXBackboneCuda,
    ::testing::Values(
        RealSizeVariant{"cogvideox-5b-i2v", "VIDPROBE_COGVIDEOX_PARITY_DIR", "cogvideox_5b_i2v"},
        RealSizeVariant{"cogvideox-5b", "VIDPROBE_COGVIDEOX_5B_PARITY_DIR", "cogvideox_5b"},
        RealSizeVariant{"cogvideox-2b", "VIDPROBE_COGVIDEOX_2B_PARITY_DIR", "cogvideox_2b"},
        RealSizeVariant{kAetherName, "VIDPROBE_AETHER_PARITY_DIR", "aether"}),
    [](const ::testing::TestParamInfo<RealSizeVariant>& variant) {
      return std::string(variant.param.param);
    });

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
