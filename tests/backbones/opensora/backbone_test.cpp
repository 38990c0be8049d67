// The Open-Sora 2.0 backbone: the official sampler's time shift, the glue from the official VAE's
// latents to the MMDiT's inputs, and extraction end to end from a weights directory laid out as
// published (fixtures of tools/make_opensora_fixtures.py), through the library and the CLI.
#include "vidprobe/backbones/opensora/backbone.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "backbones/opensora/test_fixtures.h"
#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/features/feature_cache.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::opensora {
namespace {
using fixtures::fixture;
using fixtures::fixture_json;
using fixtures::published_weights_dir;
using fixtures::vae_golden;
namespace fs = std::filesystem;
using test_support::error_message;

using test_support::relative_error;

std::unique_ptr<Backbone> load(const std::map<std::string, std::string>& extra = {
                                   {"size", "48x64"}}) {
  BackboneOptions options;
  options.weights = published_weights_dir("hunyuan_vae.safetensors").string();
  options.extra = extra;
  return create_backbone("opensora-v2", options);
}

// The official clip of the VAE fixture, as a vidprobe clip (T, 3, H, W) in [0, 1].
torch::Tensor fixture_clip() {
  return ((vae_golden("large_video")[0] + 1) / 2).permute({1, 0, 2, 3}).contiguous();
}

ExtractionPoint point(int layer, int timestep, std::uint64_t seed) {
  ExtractionPoint p;
  p.layer = layer;
  p.timestep = timestep;
  p.noise_seed = seed;
  return p;
}

// alpha and the shifted t of get_res_lin_function / time_shift, in float32 and in bf16.
TEST(OpenSoraBackbone, TimeShiftMatchesTheOfficialSampler) {
  for (const auto& c : fixture_json("schedule.json")) {
    const auto grid = c.at("latent_grid").get<std::vector<int64_t>>();
    const double alpha = shift_alpha(grid[0], grid[1], grid[2]);
    EXPECT_NEAR(alpha, c.at("alpha").get<double>(), 1e-12) << c.dump();
    const double t = c.at("t").get<double>();
    EXPECT_NEAR(shifted_time(t, alpha, torch::kFloat32).item<double>(),
                c.at("shifted_float32").get<double>(), 1e-7);
    EXPECT_EQ(shifted_time(t, alpha, torch::kBFloat16).to(torch::kFloat32).item<double>(),
              c.at("shifted_bfloat16").get<double>());
  }
}

// With the posterior mean and t = 0 the MMDiT sees the official encode's latents and a condition
// of [mask 1 at latent frame 0 | the first frame's own latents, zeros after].
TEST(OpenSoraBackbone, ModelInputsCarryTheOfficialLatentsAndFirstFrameCondition) {
  auto backbone = load({{"size", "48x64"}, {"posterior", "mean"}});
  auto& os = dynamic_cast<OpenSoraBackbone&>(*backbone);
  const auto clip = os.encode(fixture_clip());
  const auto in = os.model_inputs(clip, 0.0, torch::zeros({1, 4, 2, 6, 8}), {}, {});
  EXPECT_LT(relative_error(in.latents, vae_golden("large_latents")), 1e-5);
  EXPECT_LT(relative_error(in.cond.slice(1, 1).slice(2, 0, 1), vae_golden("first_latents")), 1e-5);
  EXPECT_EQ(in.cond.select(1, 0).select(1, 0).min().item<float>(), 1.0f);
  EXPECT_EQ(in.cond.slice(2, 1).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(in.timesteps.item<float>(), 0.0f);
  // t = 1: pure noise (up to sigma_min of the latents).
  const auto noise = torch::randn({1, 4, 2, 6, 8});
  const auto noisy = os.model_inputs(clip, 1.0, noise, {}, {});
  EXPECT_LT(relative_error(noisy.latents, noise), 1e-4);
}

// Features per video frame from latent maps (frame 0 <- latent 0, 1..4 <- latent 1), the
// authors' default point (the middle block when single_blocks[20] does not exist), seeded noise.
TEST(OpenSoraBackbone, ExtractsFromAPublishedLayoutDirectory) {
  auto backbone = load();
  EXPECT_EQ(backbone->num_layers(), 5);
  EXPECT_EQ(backbone->feature_dim(), 32);
  EXPECT_EQ(backbone->default_point().layer, 2);
  EXPECT_EQ(backbone->default_point().timestep, 250);
  const auto clip = fixture_clip();
  const auto maps = backbone->extract_many(
      clip, {point(3, 250, 1), point(3, 250, 1), point(3, 250, 2), point(0, 600, 1)});
  ASSERT_EQ(maps.size(), 4u);
  EXPECT_EQ(maps[0].features.sizes(), (at::IntArrayRef{5, 32, 3, 4}));
  EXPECT_EQ(maps[0].native_grid, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_TRUE(torch::equal(maps[0].frame_index, torch::tensor({0, 1, 1, 1, 1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(maps[0].features[1], maps[0].features[4]));
  EXPECT_TRUE(torch::equal(maps[0].features, maps[1].features));
  EXPECT_GT(relative_error(maps[2].features, maps[0].features), 1e-3);  // other noise
  EXPECT_TRUE(torch::isfinite(maps[3].features).all().item<bool>());
}

TEST(OpenSoraBackbone, RefusesMissingTextSigmasAndUnknownOptions) {
  const auto dir = test_support::fresh_temp_dir("opensora_no_text");
  for (const auto& file : {"Open_Sora_v2.safetensors", "hunyuan_vae.safetensors", "config.json"})
    fs::copy_file(published_weights_dir("hunyuan_vae.safetensors") / file, dir / file);
  BackboneOptions options;
  options.weights = dir.string();
  options.extra = {{"size", "48x64"}};
  const auto missing = error_message([&] { create_backbone("opensora-v2", options); });
  EXPECT_NE(missing.find("empty_prompt.safetensors"), std::string::npos) << missing;
  EXPECT_NE(missing.find("google/t5-v1_1-xxl"), std::string::npos) << missing;
  auto backbone = load();
  auto flow = point(1, 250, 0);
  flow.sigma = 0.5;
  EXPECT_NE(error_message([&] { backbone->extract(fixture_clip(), flow); }).find("not a sigma"),
            std::string::npos);
  options.extra = {{"prompt", "x"}};
  EXPECT_NE(error_message([&] { create_backbone("opensora-v2", options); }).find("prompt"),
            std::string::npos);
  EXPECT_EQ(find_backbone("opensora-v2").family, "opensora");
}

// The VAE in bf16 (the authors' dtype) stays close to the float32 one.
TEST(OpenSoraBackbone, VaeDtypeIsAnOption) {
  auto fp32 = load({{"size", "48x64"}, {"posterior", "mean"}});
  auto bf16 = load({{"size", "48x64"}, {"posterior", "mean"}, {"vae_dtype", "bf16"}});
  const auto a = dynamic_cast<OpenSoraBackbone&>(*fp32).encode(fixture_clip());
  const auto b = dynamic_cast<OpenSoraBackbone&>(*bf16).encode(fixture_clip());
  EXPECT_EQ(b.moments.scalar_type(), torch::kFloat32);
  EXPECT_LT(relative_error(b.moments, a.moments), 3e-2);
  EXPECT_GT(relative_error(b.moments, a.moments), 0.0);
}

// `vidprobe extract` with the fixture weights and the paper's window (the backbone sees 9 frames,
// the cache keeps the first 5: latents 0 and 1 of 3, frame 0 <- latent 0, 1..4 <- latent 1)
// writes a cache that `train` trains a probe on.
TEST(OpenSoraBackbone, ExtractsAWindowAndTrainsThroughTheCli) {
  const auto dir = test_support::fresh_temp_dir("opensora_cli");
  const auto log = dir / "log.txt";
  const auto run = [&](const std::string& arguments) {
    ASSERT_EQ(test_support::run_vidprobe(arguments, log), 0) << arguments << "\n" << read_file(log);
  };
  run("render --family objects --clips 2 --frames 9 --size 64 --seed 5 --out '" +
      (dir / "data").string() + "'");
  run("extract --backbone opensora-v2 --weights '" +
      published_weights_dir("hunyuan_vae.safetensors").string() +
      "' --backbone-opt size=48x64 --data '" + (dir / "data").string() +
      "' --frames 9 --keep-first 5 --gt-size 24 --out '" + (dir / "features").string() + "'");
  const auto cache = features::FeatureCache::open(dir / "features");
  EXPECT_EQ(cache.manifest()["identity"]["keep_first"], 5);
  ASSERT_EQ(cache.clip_ids().size(), 2u);
  const auto shard = cache.load(cache.clip_ids()[0]);
  EXPECT_EQ(shard.features.size(0), 2);
  EXPECT_EQ(shard.images.size(0), 5);
  EXPECT_TRUE(torch::equal(shard.feature_index, torch::tensor({0, 1, 1, 1, 1}, torch::kLong)));
  // The window's maps are the whole clip's first two latent maps: the MMDiT saw all 9 frames.
  run("extract --backbone opensora-v2 --weights '" +
      published_weights_dir("hunyuan_vae.safetensors").string() +
      "' --backbone-opt size=48x64 --data '" + (dir / "data").string() +
      "' --frames 9 --gt-size 24 --out '" + (dir / "whole").string() + "'");
  const auto whole = features::FeatureCache::open(dir / "whole").load(cache.clip_ids()[0]);
  EXPECT_EQ(whole.features.size(0), 3);
  EXPECT_TRUE(torch::equal(whole.features.slice(0, 0, 2), shard.features));
  EXPECT_TRUE(torch::equal(whole.images.slice(0, 0, 5), shard.images));
  ASSERT_EQ(test_support::train_tiny_probe(dir / "features", dir / "run", log), 0)
      << read_file(log);
  EXPECT_TRUE(fs::exists(dir / "run" / "checkpoints")) << read_file(log);
}

}  // namespace
}  // namespace vidprobe::backbones::opensora
