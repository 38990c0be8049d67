// The Aether backbone end to end against the authors' extraction (VidFM3D's OneStepAetherPipeline
// on the official AetherV1PipelineCogVideoX, tools/make_aether_backbone_fixtures.py) with the
// same noise: the 4-step DPM reconstruction's geometry latents and the feature pass's block
// states, loaded through the registry from the --weights layout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "backbones/cogvideox/test_fixtures.h"
#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/cogvideox/aether.h"
#include "vidprobe/backbones/cogvideox/checkpoint.h"
#include "vidprobe/backbones/registry.h"

namespace vidprobe::backbones::cogvideox {
namespace {

using test_support::error_message;
using testing::aether_fixture;
using testing::aether_golden;
using testing::AetherModelDirectory;
using ::testing::HasSubstr;

using test_support::relative_error;

const nlohmann::json& meta() {
  static const auto json = nlohmann::json::parse(read_file(aether_fixture("backbone_meta.json")));
  return json;
}

std::unique_ptr<Backbone> create(const std::string& weights,
                                 const std::map<std::string, std::string>& extra = {}) {
  BackboneOptions options;
  options.weights = weights;
  options.extra = extra;
  return find_backbone(kAetherName).create(options);
}

CogVideoXBackbone& as_cogvideox(Backbone& backbone) {
  return dynamic_cast<CogVideoXBackbone&>(backbone);
}

torch::Tensor fixture_clip() {
  return aether_golden("clip").to(torch::kFloat32) / 255.0;
}

// next_on draws what next draws, in the same order, wherever it puts the values.
void expect_next_on_draws_as_next(torch::Device device) {
  NoiseStream plain(7), placed(7);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat32}) {
    const auto expected = plain.next({2, 3, 5, 7}, dtype);
    const auto drawn = placed.next_on({2, 3, 5, 7}, device, dtype);
    EXPECT_EQ(drawn.device(), device);
    EXPECT_EQ(drawn.scalar_type(), dtype);
    EXPECT_TRUE(torch::equal(drawn.cpu(), expected)) << dtype;
  }
  // Still in step after the mixed draws.
  EXPECT_TRUE(torch::equal(plain.next({4}), placed.next({4})));
}

TEST(NoiseStream, NextOnDrawsTheSameValuesInTheSameOrder) {
  expect_next_on_draws_as_next(torch::kCPU);
}

TEST(NoiseStreamCuda, NextOnThroughPinnedMemoryDrawsTheSameValues) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  expect_next_on_draws_as_next(torch::Device(torch::kCUDA, 0));
}

TEST(AetherBackbone, ReconstructionMatchesTheAuthorsPipeline) {
  const AetherModelDirectory model;
  auto backbone = create(model.dir().string());
  auto& aether = as_cogvideox(*backbone);
  EXPECT_EQ(aether.layout().input_channels(), 96);
  EXPECT_EQ(aether.layout().output_channels(), 56);
  const auto encoded = aether.encode(fixture_clip());
  NoiseStream noise(meta().at("seed").get<std::uint64_t>());
  const auto geometry = aether.reconstruct_geometry(encoded, noise);
  EXPECT_LT(relative_error(geometry, aether_golden("geometry")), 1e-4);
  // Another seed is another reconstruction.
  NoiseStream other(meta().at("seed").get<std::uint64_t>() + 1);
  EXPECT_GT(relative_error(aether.reconstruct_geometry(encoded, other), aether_golden("geometry")),
            1e-2);
}

// extract_many with the point's seed reproduces every block's video states of the feature pass
// (reconstruction, image latents, add_noise at timestep 250 all drawn from that seed).
TEST(AetherBackbone, FeaturesMatchTheAuthorsPipeline) {
  const AetherModelDirectory model;
  auto backbone = create(model.dir().string());
  const int timestep = meta().at("timestep").get<int>();
  EXPECT_EQ(backbone->default_point().timestep, std::optional<int>(timestep));
  std::vector<ExtractionPoint> points(2);
  for (std::size_t layer = 0; layer < points.size(); ++layer) {
    points[layer].layer = static_cast<int>(layer);
    points[layer].timestep = timestep;
    points[layer].noise_seed = meta().at("seed").get<std::uint64_t>();
  }
  const auto clip = fixture_clip();
  const auto features = backbone->extract_many(clip, points);
  for (std::size_t layer = 0; layer < features.size(); ++layer) {
    const auto& maps = features[layer];
    // Reference (F', h', w', dim) -> per video frame (T, dim, h', w').
    const auto expected = aether_golden("block" + std::to_string(layer))
                              .permute({0, 3, 1, 2})
                              .index_select(0, maps.frame_index);
    EXPECT_LT(relative_error(maps.features, expected), 1e-4) << "block " << layer;
    EXPECT_EQ(maps.native_grid, (std::vector<int64_t>{5, 2, 3}));
  }
  auto shifted = points[1];
  shifted.noise_seed += 1;
  EXPECT_GT(
      relative_error(
          backbone->extract(clip, shifted).features,
          aether_golden("block1").permute({0, 3, 1, 2}).index_select(0, features[1].frame_index)),
      1e-3);
}

// --backbone-opt transformer=DIR: AetherV1's transformer/ beside a CogVideoX-5B-I2V directory.
TEST(AetherBackbone, TransformerFolderOptionLoadsTheSameModel) {
  const AetherModelDirectory split(/*separate_transformer=*/true);
  EXPECT_THAT(error_message([&] { create(split.dir().string()); }), HasSubstr("transformer"));
  auto backbone = create(split.dir().string(), {{"transformer", split.transformer_dir().string()}});
  auto& aether = as_cogvideox(*backbone);
  NoiseStream noise(meta().at("seed").get<std::uint64_t>());
  EXPECT_LT(relative_error(aether.reconstruct_geometry(aether.encode(fixture_clip()), noise),
                           aether_golden("geometry")),
            1e-4);
}

TEST(AetherBackbone, RefusesOtherChannelsAndUnknownOptions) {
  // CogVideoX-5B-I2V's own small directory: 4 latent channels, a 2 x 4 channel transformer.
  const testing::ModelDirectory cogvideox("5b-i2v");
  EXPECT_THAT(error_message([&] {
                create(cogvideox.path().string(), {{"text_context", cogvideox.context().string()}});
              }),
              HasSubstr("16 video latent channels"));
  EXPECT_THAT(error_message([&] {
                check_backbone_options(kAetherName, {{"flavour", "x"}});
              }),
              HasSubstr("flavour"));
  // The cogvideox entries do not take the aether-only option.
  EXPECT_THAT(error_message([&] {
                check_backbone_options("cogvideox", {{"transformer", "/tmp"}});
              }),
              HasSubstr("transformer"));
  EXPECT_NO_THROW(check_backbone_options(kAetherName, {{"transformer", "/tmp"}}));
}

// The real AetherV1 transformer's layout: diffusers' CogVideoXTransformer3DModel with 5B-I2V's
// configuration and Aether's channels, built on the meta device (backbone_param_counts.json).
TEST(AetherBackbone, RealSizeLayoutMatchesDiffusers) {
  const auto counts =
      nlohmann::json::parse(read_file(aether_fixture("backbone_param_counts.json"))).at("aether");
  const auto config = aether_transformer_config();
  EXPECT_EQ(config.in_channels, 96);
  EXPECT_EQ(config.out_channels, 56);
  EXPECT_DOUBLE_EQ(config.rope_time_scale, 1.5);
  const auto layout = transformer_hub_layout(config);
  int64_t elements = 0;
  for (const auto& [key, shape] : layout) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    elements += n;
  }
  EXPECT_EQ(elements, counts.at("state_dict_elements").get<int64_t>());
  EXPECT_EQ(static_cast<int64_t>(layout.size()), counts.at("state_dict_keys").get<int64_t>());
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
