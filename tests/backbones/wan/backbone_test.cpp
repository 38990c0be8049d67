#include "vidprobe/backbones/wan/backbone.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "backbones/wan/test_fixtures.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/backbones/wan/schedule.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {
namespace {

namespace fs = std::filesystem;
using testing::fixture;
using testing::golden;
using testing::relative_error;

// The fixture's small VAE + DiT + umT5 context assembled into a backbone.
std::unique_ptr<WanBackbone> small_backbone(FeatureOptions options = {}) {
  const auto& configs = testing::fixture_configs();
  auto vae_json = configs["vae"];
  vae_json["latents_mean"] = configs["latents_mean"];
  vae_json["latents_std"] = configs["latents_std"];
  auto vae =
      std::make_unique<VaeEncoder>(vae_config_from_json(vae_json, "configs.json"), torch::kCPU);
  vae->load(load_checkpoint(fixture("vae_diffusers.safetensors")), "vae");
  auto dit = std::make_unique<Transformer>(dit_config_from_json(configs["dit"], "configs.json"),
                                           torch::kCPU, torch::kFloat32);
  dit->load(load_checkpoint(fixture("dit_original.safetensors")), "dit");
  options.height = 32;
  options.width = 48;
  return std::make_unique<WanBackbone>("wan-small", std::move(vae), std::move(dit),
                                       golden("context"), options);
}

// (1, tokens, C) reference hidden states -> per video frame maps (9, C, 2, 3).
torch::Tensor expected_frames(const std::string& name) {
  return latent_maps_to_video_frames(tokens_to_maps(golden(name), {3, 2, 3})[0], 9);
}

ExtractionPoint point(int layer, int timestep, std::uint64_t seed = 1234) {
  ExtractionPoint p;
  p.layer = layer;
  p.timestep = timestep;
  p.noise_seed = seed;
  return p;
}

// clip -> VAE -> seeded flow noise -> DiT block, end to end against the diffusers reference.
TEST(WanBackbone, ClipToBlockFeaturesMatchesTheReferencePipeline) {
  auto backbone = small_backbone();
  torch::NoGradGuard no_grad;
  const auto maps = backbone->extract(golden("clip"), point(1, 250));
  ASSERT_EQ(maps.features.sizes(), (std::vector<int64_t>{9, 40, 2, 3}));
  EXPECT_LT(relative_error(maps.features, expected_frames("t250_block1")), 1e-4);
  EXPECT_EQ(maps.native_grid, (std::vector<int64_t>{3, 2, 3}));
  // Video frames 1..4 share latent frame 1, frames 5..8 latent frame 2.
  EXPECT_TRUE(torch::equal(maps.features[1], maps.features[4]));
  EXPECT_FALSE(torch::equal(maps.features[4], maps.features[5]));
}

TEST(WanBackbone, SweepEncodesOnceAndMatchesSingleExtractions) {
  auto backbone = small_backbone();
  torch::NoGradGuard no_grad;
  const auto latents = backbone->encode(golden("clip"));
  EXPECT_LT(relative_error(latents, golden("latents")), 1e-4);
  const auto results = backbone->extract_at(
      latents, 9, {point(2, 700), point(0, 250), point(2, 250), point(1, 700)});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_LT(relative_error(results[0].features, expected_frames("t700_block2")), 1e-4);
  EXPECT_LT(relative_error(results[1].features, expected_frames("t250_block0")), 1e-4);
  EXPECT_LT(relative_error(results[2].features, expected_frames("t250_block2")), 1e-4);
  EXPECT_LT(relative_error(results[3].features, expected_frames("t700_block1")), 1e-4);
}

TEST(WanBackbone, NoiseSeedAndDrawsChangeTheFeatures) {
  FeatureOptions two_draws;
  two_draws.noise_draws = 2;
  auto single = small_backbone();
  auto averaged = small_backbone(two_draws);
  torch::NoGradGuard no_grad;
  const auto latents = single->encode(golden("clip"));
  const auto seed_a = single->extract_at(latents, 9, {point(1, 500, 7)})[0].features;
  const auto seed_b = single->extract_at(latents, 9, {point(1, 500, 8)})[0].features;
  EXPECT_FALSE(torch::allclose(seed_a, seed_b));
  EXPECT_TRUE(torch::equal(seed_a, single->extract_at(latents, 9, {point(1, 500, 7)})[0].features));
  // The average over draws 0 and 1 of seed 7, computed by hand.
  const auto& dit = single->transformer();
  const auto context = dit.embed_context(golden("context"));
  torch::Tensor sum;
  for (int draw = 0; draw < 2; ++draw) {
    const auto noisy = add_flow_noise(latents, seeded_noise(latents.sizes(), 7, draw), 0.5);
    const auto block = dit.run(noisy, torch::tensor({500.0f}), context, {1}).blocks[0];
    sum = sum.defined() ? sum + block : block;
  }
  const auto expected = latent_maps_to_video_frames(tokens_to_maps(sum / 2, {3, 2, 3})[0], 9);
  EXPECT_LT(
      relative_error(averaged->extract_at(latents, 9, {point(1, 500, 7)})[0].features, expected),
      1e-6);
}

// A kept layer's stream is settled by nn::updated_stream, where the blocks after it add the same
// update inside their first norm (the runtime kernel on a GPU): the deeper layers must come out
// bit for bit the same whichever shallower layers are kept with them.
void expect_kept_layers_leave_the_deeper_ones(torch::Device device, torch::ScalarType dtype) {
  auto backbone = small_backbone();
  torch::NoGradGuard no_grad;
  backbone->to(device, dtype);
  const auto latents = backbone->encode(golden("clip").to(device));
  const auto alone = backbone->extract_at(latents, 9, {point(2, 700)})[0].features;
  // The control: the same request twice (a failure here is nondeterminism, not the settling).
  ASSERT_TRUE(torch::equal(backbone->extract_at(latents, 9, {point(2, 700)})[0].features, alone));
  const auto with_others =
      backbone->extract_at(latents, 9, {point(0, 700), point(1, 700), point(2, 700)});
  EXPECT_TRUE(torch::equal(with_others[2].features, alone));
}

TEST(WanBackbone, KeptLayersLeaveTheDeeperOnesBitForBit) {
  expect_kept_layers_leave_the_deeper_ones(torch::kCPU, torch::kFloat32);
}

TEST(WanBackboneCuda, KeptLayersLeaveTheDeeperOnesBitForBit) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    expect_kept_layers_leave_the_deeper_ones(torch::kCUDA, dtype);
  }
}

// The same pipeline on the GPU: float32 (TF32 convolutions off) within the parity tolerance, bf16
// (the default there) within bf16's precision.
TEST(WanBackboneCuda, MatchesTheReferenceInFp32AndBf16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto backbone = small_backbone();
  torch::NoGradGuard no_grad;
  const bool tf32 = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuDNN(false);
  backbone->to(torch::kCUDA, torch::kFloat32);
  const auto clip = golden("clip").to(torch::kCUDA);
  const auto fp32 = backbone->extract(clip, point(2, 700)).features;
  EXPECT_TRUE(fp32.is_cuda());
  EXPECT_LT(relative_error(fp32, expected_frames("t700_block2")), 1e-4);
  at::globalContext().setAllowTF32CuDNN(tf32);
  backbone->to(torch::kCUDA, torch::kBFloat16);
  const auto bf16 = backbone->extract(clip, point(2, 700)).features;
  EXPECT_EQ(bf16.scalar_type(), torch::kFloat32);
  EXPECT_LT(relative_error(bf16, expected_frames("t700_block2")), 3e-2);
}

// Real size: bench/wan_reference.py --make-parity DIR writes a random 1.3B model in both checkpoint
// layouts (sharded fp32 diffusers, single-file bf16 original) with diffusers' float32 block-15
// hidden states; run with VIDPROBE_WAN_PARITY_DIR=DIR on a GPU.
TEST(WanBackboneCuda, RealSizeCheckpointsMatchDiffusers) {
  const char* dir = std::getenv("VIDPROBE_WAN_PARITY_DIR");
  if (!dir || !torch::cuda::is_available()) GTEST_SKIP() << "set VIDPROBE_WAN_PARITY_DIR on a GPU";
  const fs::path root(dir);
  const auto reference = load_safetensors(root / "reference.safetensors");
  FeatureOptions options;
  options.text_context = root / "context.safetensors";
  options.cudnn_benchmark = false;
  const bool tf32 = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuDNN(false);
  torch::NoGradGuard no_grad;
  const auto expected =
      latent_maps_to_video_frames(tokens_to_maps(reference.at("block15_t250"), {2, 30, 52})[0], 5);
  for (const char* layout : {"diffusers", "original"}) {
    BackboneOptions backbone_options;
    backbone_options.weights = (root / layout).string();
    backbone_options.device = torch::kCUDA;
    auto created = make_wan_backbone("wan2.1-t2v-1.3b", backbone_options, options);
    auto& backbone = dynamic_cast<WanBackbone&>(*created);
    const auto latents = backbone.encode(reference.at("clip").to(torch::kCUDA));
    EXPECT_LT(relative_error(latents, reference.at("latents")), 1e-4) << layout;
    const auto features = backbone.extract_at(latents, 5, {point(15, 250, 1234)})[0].features;
    EXPECT_LT(relative_error(features, expected), 1e-3) << layout;
    backbone.to(torch::kCUDA, torch::kBFloat16);
    const auto bf16 = backbone.extract_at(latents, 5, {point(15, 250, 1234)})[0].features;
    EXPECT_LT(relative_error(bf16, expected), 5e-2) << layout << " bf16";
    std::cout << layout << ": fp32 relative error " << relative_error(features, expected)
              << ", bf16 " << relative_error(bf16, expected) << "\n";
  }
  at::globalContext().setAllowTF32CuDNN(tf32);
}

// vae_dtype=bf16 runs the encoder in bf16 on the same (float32-loaded) weights: the latents stay
// float32, move off the float32 reference by bf16's rounding, and the option really takes effect.
TEST(WanBackbone, Bf16VaeKeepsFloatLatentsNearTheReference) {
  FeatureOptions options;
  options.vae_dtype = torch::kBFloat16;
  auto bf16_vae = small_backbone(options);
  auto fp32_vae = small_backbone();
  torch::NoGradGuard no_grad;
  const auto clip = golden("clip");
  const auto latents = bf16_vae->encode(clip);
  const auto reference = fp32_vae->encode(clip);
  EXPECT_EQ(latents.scalar_type(), torch::kFloat32);
  EXPECT_GT(relative_error(latents, reference), 1e-5);
  EXPECT_LT(relative_error(latents, reference), 3e-2);
  const auto features = bf16_vae->extract(clip, point(2, 700)).features;
  EXPECT_LT(relative_error(features, expected_frames("t700_block2")), 3e-2);
}

TEST(WanBackbone, VaeDtypeOptionIsParsedAndChecked) {
  EXPECT_EQ(feature_options_from("wan2.1-t2v-1.3b", {}).vae_dtype, torch::kFloat32);
  EXPECT_EQ(feature_options_from("wan2.1-t2v-1.3b", {{"vae_dtype", "bf16"}}).vae_dtype,
            torch::kBFloat16);
  try {
    feature_options_from("wan2.1-t2v-1.3b", {{"vae_dtype", "fp64"}});
    FAIL() << "fp64 accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("vae_dtype"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("fp64"), std::string::npos) << error.what();
  }
}

TEST(WanBackbone, VaeChannelsLastOptionIsParsedAndChecked) {
  EXPECT_TRUE(feature_options_from("wan2.1-t2v-1.3b", {}).vae_channels_last);
  EXPECT_FALSE(
      feature_options_from("wan2.1-t2v-1.3b", {{"vae_channels_last", "0"}}).vae_channels_last);
  try {
    feature_options_from("wan2.1-t2v-1.3b", {{"vae_channels_last", "yes"}});
    FAIL() << "yes accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("vae_channels_last must be 0 or 1, got 'yes'"),
              std::string::npos)
        << error.what();
  }
}

// What a bf16 VAE changes at the paper's clip (real-size 1.3B, random weights, a smooth clip):
// the latents and block-20 features against the float32 VAE (TF32 convolutions as the default
// extraction runs them), printed as one JSON line for docs/perf.md. Run on a GPU with
// VIDPROBE_WAN_VAE_DTYPE_FRAMES=81 (or 17).
TEST(WanBackboneCuda, Bf16VaeAgainstFloat32AtRealSize) {
  const char* frames_env = std::getenv("VIDPROBE_WAN_VAE_DTYPE_FRAMES");
  if (!frames_env || !torch::cuda::is_available())
    GTEST_SKIP() << "set VIDPROBE_WAN_VAE_DTYPE_FRAMES on a GPU";
  const int64_t frames = std::stoll(frames_env);
  BackboneOptions backbone_options;
  backbone_options.random_init = true;
  backbone_options.device = torch::kCUDA;
  backbone_options.dtype = torch::kBFloat16;
  auto created = make_wan_backbone("wan2.1-t2v-1.3b", backbone_options, FeatureOptions{});
  auto& backbone = dynamic_cast<WanBackbone&>(*created);
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
  // Smooth content (a coarse random field, bilinearly upsampled) rather than pixel noise, which
  // no VAE meets in a video.
  const auto coarse = torch::rand({frames, 3, 15, 26}, generator, torch::kFloat32);
  const auto clip =
      torch::nn::functional::interpolate(coarse, torch::nn::functional::InterpolateFuncOptions()
                                                     .size(std::vector<int64_t>{480, 832})
                                                     .mode(torch::kBilinear)
                                                     .align_corners(false))
          .to(torch::kCUDA);
  const auto float_latents = backbone.encode(clip);
  backbone.set_vae_dtype(torch::kBFloat16);
  const auto bf16_latents = backbone.encode(clip);
  const auto at = point(20, 500, 1234);
  const auto float_features = backbone.extract_at(float_latents, frames, {at})[0].features;
  const auto bf16_features = backbone.extract_at(bf16_latents, frames, {at})[0].features;
  const auto norm_error = [](const torch::Tensor& a, const torch::Tensor& b) {
    return ((a - b).norm() / b.norm()).item<double>();
  };
  const double cosine = torch::nn::functional::cosine_similarity(
                            bf16_features.flatten(2), float_features.flatten(2),
                            torch::nn::functional::CosineSimilarityFuncOptions().dim(1))
                            .mean()
                            .item<double>();
  std::cout << "{\"benchmark\": \"wan_vae_bf16_vs_fp32\", \"frames\": " << frames
            << ", \"latents_norm_rel\": " << norm_error(bf16_latents, float_latents)
            << ", \"latents_max_rel\": " << relative_error(bf16_latents, float_latents)
            << ", \"block20_t500_norm_rel\": " << norm_error(bf16_features, float_features)
            << ", \"block20_t500_max_rel\": " << relative_error(bf16_features, float_features)
            << ", \"block20_t500_mean_token_cosine\": " << cosine << "}" << std::endl;
  EXPECT_LT(norm_error(bf16_latents, float_latents), 5e-2);
}

TEST(WanBackbone, SpecDefaultsAndInputChecks) {
  auto backbone = small_backbone();
  const auto spec = backbone->input_spec();
  EXPECT_EQ(spec.frames_multiple, 4);
  EXPECT_EQ(spec.frames_offset, 1);
  EXPECT_EQ(spec.patch_size, 16);
  EXPECT_EQ(spec.mean, (std::vector<double>{0.5, 0.5, 0.5}));
  EXPECT_EQ(backbone->num_layers(), 3);
  EXPECT_EQ(backbone->feature_dim(), 40);
  EXPECT_EQ(backbone->default_point().layer, 1);
  EXPECT_EQ(backbone->default_point().timestep, kDefaultTimestep);
  torch::NoGradGuard no_grad;
  try {
    backbone->extract(torch::rand({8, 3, 32, 48}), point(0, 250));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4k + 1 frames"), std::string::npos) << e.what();
  }
  EXPECT_THROW(backbone->extract(torch::rand({5, 3, 40, 48}), point(0, 250)), Error);
  EXPECT_THROW(backbone->extract(torch::rand({5, 3, 32, 48}), point(3, 250)), Error);
  EXPECT_THROW(backbone->extract(torch::rand({5, 3, 32, 48}), point(0, 1001)), Error);
  // A single frame is a valid clip (the per-frame ablation feeds frames one at a time).
  EXPECT_EQ(backbone->extract(torch::rand({1, 3, 32, 48}), point(0, 250)).features.sizes(),
            (std::vector<int64_t>{1, 40, 2, 3}));
}

TEST(WanBackbone, VideoFramesMapToLatentFrames) {
  const std::vector<int64_t> expected{0, 1, 1, 1, 1, 2, 2, 2, 2, 3};
  for (int64_t t = 0; t < 10; ++t) EXPECT_EQ(latent_frame_of(t), expected[t]) << "frame " << t;
  const auto maps = torch::arange(3, torch::kFloat32).view({3, 1, 1, 1});
  EXPECT_TRUE(torch::equal(latent_maps_to_video_frames(maps, 9).flatten(),
                           torch::tensor({0, 1, 1, 1, 1, 2, 2, 2, 2}).to(torch::kFloat32)));
  EXPECT_THROW(latent_maps_to_video_frames(maps, 5), Error);
}

class WanModelDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vidprobe_wan_dir_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void touch(const fs::path& path) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << "{}";
  }
  fs::path dir_;
};

// Paths are compared as strings: gtest's value printer recurses forever on std::filesystem::path.
TEST_F(WanModelDirectory, FindsTheOriginalAndTheDiffusersLayout) {
  touch(dir_ / "diffusion_pytorch_model.safetensors");
  touch(dir_ / "Wan2.1_VAE.pth");
  try {
    locate_model_files(dir_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Wan2.1_VAE.safetensors"), std::string::npos) << e.what();
  }
  touch(dir_ / "Wan2.1_VAE.safetensors");
  auto files = locate_model_files(dir_);
  EXPECT_EQ(files.transformer.string(), (dir_ / "diffusion_pytorch_model.safetensors").string());
  EXPECT_EQ(files.vae.string(), (dir_ / "Wan2.1_VAE.safetensors").string());
  touch(dir_ / "diffusion_pytorch_model.safetensors.index.json");
  EXPECT_EQ(locate_model_files(dir_).transformer.string(), (dir_).string());

  const auto diffusers = dir_ / "diffusers";
  touch(diffusers / "transformer" / "config.json");
  touch(diffusers / "vae" / "config.json");
  files = locate_model_files(diffusers);
  EXPECT_EQ(files.transformer.string(), (diffusers / "transformer").string());
  EXPECT_EQ(files.vae.string(), (diffusers / "vae").string());
  EXPECT_EQ(files.text_encoder.string(), (diffusers / "text_encoder").string());
  EXPECT_THROW(locate_model_files(dir_ / "missing"), Error);
}

// A directory holding another model's transformer is refused with the reason, not a wall of
// shape mismatches.
TEST_F(WanModelDirectory, RejectsWeightsOfAnotherSize) {
  fs::create_directories(dir_ / "transformer");
  fs::create_directories(dir_ / "vae");
  fs::copy_file(fixture("dit_diffusers.safetensors"),
                dir_ / "transformer" / "diffusion_pytorch_model.safetensors");
  std::ofstream(dir_ / "transformer" / "config.json") << testing::fixture_configs()["dit"].dump();
  save_safetensors(dir_ / "context.safetensors", {{"context", torch::zeros({1, 4096})}});
  FeatureOptions options;
  options.text_context = dir_ / "context.safetensors";
  BackboneOptions backbone_options;
  backbone_options.weights = dir_.string();
  try {
    make_wan_backbone("wan2.1-t2v-1.3b", backbone_options, options);
    FAIL();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("config.json"), std::string::npos) << message;
    EXPECT_NE(message.find("dim 40"), std::string::npos) << message;
    EXPECT_NE(message.find("dim 1536"), std::string::npos) << message;
  }
}

TEST(WanRegistry, BothSizesAreRegistered) {
  EXPECT_EQ(find_backbone("wan2.1-t2v-1.3b").family, "wan2.1");
  EXPECT_EQ(find_backbone("wan2.1-t2v-14b").family, "wan2.1");
  EXPECT_TRUE(find_backbone("wan2.1-t2v-14b").needs_weights);
  EXPECT_THROW(create_backbone("wan2.1-t2v-14b", {}), Error);
}

}  // namespace
}  // namespace vidprobe::backbones::wan
