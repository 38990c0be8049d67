// `--preset vidfm3d` on extract: the authors' settings for every option the user did not give,
// per backbone family, and the squash resize / explicit GT size they use, end to end.
#include "vidprobe/features/extraction_preset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>

#include "backbones/cogvideox/test_fixtures.h"
#include "test_support.h"
#include "vidprobe/backbones/opensora/backbone.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/features/feature_cache.h"
#include "vidprobe/features/vidfm3d_import.h"

namespace vidprobe::features {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

ExtractOptions with_backbone(const std::string& name) {
  ExtractOptions o;
  o.backbone = name;
  return o;
}

TEST(ExtractionPreset, Vidfm3dIsTheAuthorsWanExtraction) {
  auto o = with_backbone("wan2.1-t2v-1.3b");
  apply_extraction_preset("vidfm3d", o, {});
  EXPECT_EQ(o.frames, 81);
  EXPECT_EQ(o.sampling, ClipSamplingMode::kStrided);
  EXPECT_EQ(o.point.layer, 20);
  EXPECT_EQ(o.point.timestep, 502);
  EXPECT_NEAR(*o.point.sigma, 0.5023265480995178, 1e-15);
  EXPECT_EQ(o.backbone_options.at("text_length"), "226");
  EXPECT_EQ(o.compute_dtype, std::optional<torch::Dtype>(torch::kFloat32));
  EXPECT_TRUE(o.noise_per_clip);
  EXPECT_EQ(o.resize, ResizeMode::kSquash);
  EXPECT_EQ(o.gt_size, 294);
  EXPECT_EQ(o.gt_width, 518);
  ASSERT_TRUE(o.input_processor.has_value());
  EXPECT_EQ(o.input_processor->name, "vidfm3d-wan");
}

// features/opensora: 129 frames fed, the 21 latents of frames 0..80 kept, BICUBIC squash to
// 848 x 480, the backbone's default point (single_blocks[20], t = 0.25), bf16 throughout, one
// noise draw for every clip.
TEST(ExtractionPreset, Vidfm3dIsTheAuthorsOpenSoraExtraction) {
  auto o = with_backbone("opensora-v2");
  apply_extraction_preset("vidfm3d", o, {});
  EXPECT_EQ(o.frames, 129);
  EXPECT_EQ(o.keep_first, 81);
  EXPECT_EQ(o.probe_frames, 0);
  EXPECT_EQ(o.sampling, ClipSamplingMode::kStrided);
  EXPECT_EQ(o.point.layer, -1);
  EXPECT_FALSE(o.point.timestep.has_value());
  EXPECT_EQ(o.compute_dtype, std::optional<torch::Dtype>(torch::kBFloat16));
  EXPECT_FALSE(o.noise_per_clip);
  EXPECT_EQ(o.backbone_options.at("size"), "480x848");
  EXPECT_EQ(o.backbone_options.at("vae_dtype"), "bf16");
  EXPECT_EQ(o.resize, ResizeMode::kSquash);
  EXPECT_EQ(o.gt_size, 294);
  EXPECT_EQ(o.gt_width, 518);
  ASSERT_TRUE(o.input_processor.has_value());
  EXPECT_EQ(o.input_processor->name, "vidfm3d-opensora");
  EXPECT_EQ(o.input_processor->size.width, 848);
  EXPECT_EQ(o.input_processor->size.height, 480);
  auto given = with_backbone("opensora-v2");
  given.frames = 9;
  given.keep_first = 5;
  given.backbone_options["vae_dtype"] = "fp32";
  apply_extraction_preset("vidfm3d", given, {"frames", "keep-first", "backbone-opt:vae_dtype"});
  EXPECT_EQ(given.frames, 9);
  EXPECT_EQ(given.keep_first, 5);
  EXPECT_EQ(given.backbone_options.at("vae_dtype"), "fp32");
}

// The window's frame -> map index over the kept 81 frames is the authors' dataset's for every
// frame a view can be (their context of 76 frames).
TEST(ExtractionPreset, OpenSoraWindowIndexIsTheAuthorsDatasetIndex) {
  const auto ours = backbones::opensora::latent_frame_indices(129).slice(0, 0, 81);
  EXPECT_EQ(ours.max().item<int64_t>(), 20);  // 21 latents kept of 33
  const auto theirs = vidfm3d_feature_index("opensora", 81, 21, 76);
  for (int64_t f = 0; f < 76; ++f)
    EXPECT_EQ(ours[f].item<int64_t>(), theirs[static_cast<std::size_t>(f)]) << f;
}

TEST(ExtractionPreset, GivenOptionsWinAndFamiliesGetTheirOwnSettings) {
  auto wan = with_backbone("wan2.1-t2v-14b");
  wan.frames = 17;
  wan.point.layer = 15;
  wan.backbone_options["text_length"] = "512";
  apply_extraction_preset("vidfm3d", wan, {"frames", "layer", "backbone-opt:text_length"});
  EXPECT_EQ(wan.frames, 17);
  EXPECT_EQ(wan.point.layer, 15);
  EXPECT_EQ(wan.backbone_options.at("text_length"), "512");
  EXPECT_EQ(wan.point.timestep, 502);

  auto dino = with_backbone("dinov2-vitl14");
  apply_extraction_preset("vidfm3d", dino, {});
  EXPECT_EQ(dino.backbone_options.at("size"), "420x728");
  EXPECT_EQ(dino.backbone_options.at("final_norm"), "1");
  EXPECT_FALSE(dino.point.timestep.has_value());
  EXPECT_EQ(dino.frames, 81);
  ASSERT_TRUE(dino.input_processor.has_value());
  EXPECT_EQ(dino.input_processor->name, "vidfm3d-dinov2");
  auto own_pixels = with_backbone("dinov2-vitl14");
  apply_extraction_preset("vidfm3d", own_pixels, {"input-processor"});
  EXPECT_FALSE(own_pixels.input_processor.has_value());

  auto vjepa = with_backbone("vjepa1-vith16-384");
  apply_extraction_preset("vidfm3d", vjepa, {});
  EXPECT_EQ(vjepa.frames, 76);
  EXPECT_EQ(vjepa.sampling, ClipSamplingMode::kStrided);
  EXPECT_EQ(vjepa.backbone_options.at("size"), "480x832");
  EXPECT_EQ(vjepa.backbone_options.at("spaced_clips"), "5");
  EXPECT_EQ(vjepa.point.layer, -1);  // the last block, without the final norm
  EXPECT_EQ(vjepa.compute_dtype, std::optional<torch::Dtype>(torch::kFloat32));
  ASSERT_TRUE(vjepa.input_processor.has_value());
  EXPECT_EQ(vjepa.input_processor->name, "vidfm3d-vjepa");

  auto pixels = with_backbone("pixels");
  pixels.frames = 4;
  apply_extraction_preset("vidfm3d", pixels, {});
  EXPECT_EQ(pixels.frames, 4);  // no paper protocol for it: only the framing is the authors'
  EXPECT_EQ(pixels.resize, ResizeMode::kSquash);
  EXPECT_TRUE(pixels.backbone_options.empty());
  EXPECT_FALSE(pixels.input_processor.has_value());

  auto none = with_backbone("wan2.1-t2v-1.3b");
  apply_extraction_preset("none", none, {});
  EXPECT_EQ(none.resize, ResizeMode::kCrop);
  EXPECT_THAT(test_support::error_message([&] { apply_extraction_preset("paper", none, {}); }),
              HasSubstr("'paper'"));
}

// Fast3R (features/f3r): 81 frames at once, dust3r's 512 x 288 LANCZOS input, bf16, the default
// point (the decoder's last map, 24), fresh image indices per clip.
TEST(ExtractionPreset, Vidfm3dIsTheAuthorsFast3rExtraction) {
  auto o = with_backbone("fast3r-vitl16-512");
  apply_extraction_preset("vidfm3d", o, {});
  EXPECT_EQ(o.frames, 81);
  EXPECT_EQ(o.sampling, ClipSamplingMode::kStrided);
  EXPECT_EQ(o.probe_frames, 0);
  EXPECT_EQ(o.backbone_options.at("size"), "288x512");
  EXPECT_EQ(o.point.layer, -1);
  EXPECT_EQ(o.compute_dtype, std::optional<torch::Dtype>(torch::kBFloat16));
  EXPECT_TRUE(o.noise_per_clip);
  EXPECT_EQ(o.resize, ResizeMode::kSquash);
  ASSERT_TRUE(o.input_processor.has_value());
  EXPECT_EQ(o.input_processor->name, "vidfm3d-fast3r");
}

TEST(ExtractionPreset, Vidfm3dIsTheAuthorsCogVideoXExtraction) {
  for (const char* name : {"cogvideox-5b-i2v", "cogvideox-2b", "cogvideox"}) {
    auto o = with_backbone(name);
    apply_extraction_preset("vidfm3d", o, {});
    EXPECT_EQ(o.frames, 97);
    EXPECT_EQ(o.interleaved_clips, 2);
    EXPECT_EQ(o.sampling, ClipSamplingMode::kStrided);
    EXPECT_EQ(o.probe_frames, 0);
    EXPECT_EQ(o.point.layer, 20);
    EXPECT_EQ(o.point.timestep, 250);  // index 749 of the 1000 trailing DDIM timesteps
    EXPECT_FALSE(o.point.sigma.has_value());
    EXPECT_EQ(o.compute_dtype, std::optional<torch::Dtype>(torch::kFloat16));
    EXPECT_TRUE(o.noise_per_clip);
    EXPECT_EQ(o.resize, ResizeMode::kSquash);
    EXPECT_EQ(o.gt_size, 294);
    EXPECT_EQ(o.gt_width, 518);
    ASSERT_TRUE(o.input_processor.has_value());
    EXPECT_EQ(o.input_processor->name, "vidfm3d-cogvideox");
    EXPECT_EQ(o.input_processor->size, (Size2{720, 480}));
    // Their CogVideoXFeaturizer loads the VAE with torch_dtype=torch.float16 (and does not tile).
    EXPECT_EQ(o.backbone_options, (std::map<std::string, std::string>{{"vae_dtype", "fp16"}}));
  }
  auto given = with_backbone("cogvideox-5b-i2v");
  given.interleaved_clips = 1;
  given.frames = 49;
  given.backbone_options["vae_dtype"] = "fp32";
  apply_extraction_preset("vidfm3d", given,
                          {"interleaved-clips", "frames", "backbone-opt:vae_dtype"});
  EXPECT_EQ(given.interleaved_clips, 1);
  EXPECT_EQ(given.frames, 49);
  EXPECT_EQ(given.backbone_options.at("vae_dtype"), "fp32");
}

// A preset that feeds each window as 2 clips sharing frame 0 (CogVideoX, Aether), end to end on
// a small fixture model: render 3 clips of `frames`, extract with `--preset vidfm3d` and
// `backbone_arguments` (the fixture, its trained size, layer 1, float32 on the CPU), check the
// cache (both clips' latent maps, the map each frame reads, frame 0's two copies different), then
// train the paper's probe on it.
struct TwoClipPresetCase {
  std::string family;
  std::string backbone_arguments;
  int frames = 0;
  std::vector<int64_t> feature_sizes;  // both clips' maps x channels x grid
};

void expect_two_clip_cache_trains(const TwoClipPresetCase& c) {
  const auto dir = test_support::fresh_temp_dir(c.family + "_preset");
  const auto log = dir / "log.txt";
  ASSERT_EQ(test_support::run_vidprobe(
                "render --family objects --clips 3 --frames " + std::to_string(c.frames) +
                    " --size 48 --seed 5 --out '" + (dir / "data").string() + "'",
                log),
            0)
      << read_file(log);
  const std::string extract = "extract --preset vidfm3d " + c.backbone_arguments +
                              " --input-processor none --layer 1 --compute-dtype fp32 "
                              "--gt-size 16x24 --data '" +
                              (dir / "data").string() + "' --out '" + (dir / "feats").string() +
                              "'";
  ASSERT_EQ(test_support::run_vidprobe(extract, log), 0) << read_file(log);
  const auto cache = FeatureCache::open(dir / "feats");
  const auto& identity = cache.manifest()["identity"];
  EXPECT_EQ(identity["interleaved_clips"], 2);
  EXPECT_EQ(identity["frames"], c.frames);
  EXPECT_EQ(identity["timestep"], 250);
  EXPECT_EQ(identity["noise_per_clip"], true);
  const auto shard = cache.load(cache.clip_ids().at(0));
  const auto maps = c.feature_sizes.at(0);
  EXPECT_EQ(shard.features.sizes(), c.feature_sizes);
  EXPECT_EQ(shard.num_frames(), c.frames);
  EXPECT_TRUE(
      torch::equal(shard.feature_index,
                   torch::tensor(vidfm3d_feature_index(c.family, c.frames, maps), torch::kLong)));
  EXPECT_TRUE(shard.features.isfinite().all().item<bool>());
  // Frame 0 is in both clips; the second clip's copy has its own context and noise.
  EXPECT_FALSE(torch::allclose(shard.features[0], shard.features[maps / 2]));
  ASSERT_EQ(test_support::train_small_probe(dir / "feats", dir / "run", log), 0) << read_file(log);
  EXPECT_THAT(read_file(dir / "run" / "train_log.jsonl"), HasSubstr("\"loss\""));
  fs::remove_all(dir);
}

// The CogVideoX preset with the small 5B-I2V fixture (sized by its config.json, so the
// family-wide "cogvideox" entry): 97-frame clips fed as 2 clips of 49, 13 latent maps each. The
// fixture's trained size (8 x 12 latents) instead of 480 x 720, so our resize instead of the
// 720 x 480 processor; its 2 blocks instead of block 20.
TEST(ExtractionPreset, CogVideoXTwoClipCacheTrainsThePapersProbe) {
  const backbones::cogvideox::testing::ModelDirectory model("5b-i2v");
  expect_two_clip_cache_trains(
      {.family = "cogvideox",
       .backbone_arguments = "--backbone cogvideox --weights '" + model.path().string() +
                             "' --backbone-opt text_context='" + model.context().string() +
                             "' --backbone-opt size=64x96",
       .frames = 97,
       .feature_sizes = {26, 32, 4, 6}});
}

TEST(ExtractionPreset, Vidfm3dIsTheAuthorsAetherExtraction) {
  auto o = with_backbone("aether");
  apply_extraction_preset("vidfm3d", o, {});
  EXPECT_EQ(o.frames, 81);  // 2 clips of 41
  EXPECT_EQ(o.interleaved_clips, 2);
  EXPECT_EQ(o.sampling, ClipSamplingMode::kStrided);
  EXPECT_EQ(o.point.layer, 20);
  EXPECT_EQ(o.point.timestep, 250);
  EXPECT_EQ(o.compute_dtype, std::optional<torch::Dtype>(torch::kBFloat16));
  EXPECT_TRUE(o.noise_per_clip);
  EXPECT_EQ(o.resize, ResizeMode::kSquash);
  ASSERT_TRUE(o.input_processor.has_value());
  EXPECT_EQ(o.input_processor->name, "vidfm3d-cogvideox");
  EXPECT_EQ(o.input_processor->size, (Size2{720, 480}));
  // Their AetherFeaturizer loads the VAE with torch_dtype=torch.bfloat16 (not the CogVideoX
  // featurizer's float16) and calls pipeline.vae.enable_tiling() (the CogVideoX one does not).
  EXPECT_EQ(o.backbone_options,
            (std::map<std::string, std::string>{{"vae_tiling", "on"}, {"vae_dtype", "bf16"}}));
  auto given = with_backbone("aether");
  given.backbone_options["vae_tiling"] = "off";
  apply_extraction_preset("vidfm3d", given, {"backbone-opt:vae_tiling"});
  EXPECT_EQ(given.backbone_options.at("vae_tiling"), "off");
  EXPECT_EQ(given.backbone_options.at("vae_dtype"), "bf16");
  auto fp32 = with_backbone("aether");
  fp32.backbone_options["vae_dtype"] = "fp32";
  apply_extraction_preset("vidfm3d", fp32, {"backbone-opt:vae_dtype"});
  EXPECT_EQ(fp32.backbone_options.at("vae_dtype"), "fp32");
  EXPECT_EQ(fp32.backbone_options.at("vae_tiling"), "on");
}

// The Aether preset with the small fixture of tools/make_aether_backbone_fixtures.py (--weights:
// a CogVideoX-5B-I2V-like directory with the Aether transformer/ and T5 text_encoder/): 81-frame
// clips as 2 clips of 41, each reconstructed (4 DPM steps) then featurised, 11 latent maps each;
// the fixture's trained size (4 x 6 latents, its learned positions) instead of 480 x 720.
TEST(ExtractionPreset, AetherTwoClipCacheTrainsThePapersProbe) {
  const backbones::cogvideox::testing::AetherModelDirectory model;
  expect_two_clip_cache_trains(
      {.family = "aether",
       .backbone_arguments =
           "--backbone aether --weights '" + model.dir().string() + "' --backbone-opt size=32x48",
       .frames = 81,
       .feature_sizes = {22, 32, 2, 3}});
}

// Through the command line: the whole frame squashed to the input and to a 30 x 52 GT whose
// aspect differs from the input's, the cameras following.
TEST(ExtractionPreset, SquashAndAnExplicitGtSizeThroughTheCommandLine) {
  const auto dir = fs::temp_directory_path() / ("vidprobe_squash_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto log = dir / "log.txt";
  fs::create_directories(dir);
  ASSERT_EQ(test_support::run_vidprobe("render --family objects --clips 1 --frames 4 --size 48 "
                                       "--seed 4 --out '" +
                                           (dir / "data").string() + "'",
                                       log),
            0)
      << read_file(log);
  ASSERT_EQ(test_support::run_vidprobe("extract --preset vidfm3d --backbone pixels --frames 4 "
                                       "--gt-size 30x52 --dtype fp32 --data '" +
                                           (dir / "data").string() + "' --out '" +
                                           (dir / "feats").string() + "'",
                                       log),
            0)
      << read_file(log);
  const auto cache = FeatureCache::open(dir / "feats");
  EXPECT_EQ(cache.manifest()["identity"]["resize"], "squash");
  const auto shard = cache.load(cache.clip_ids().at(0));
  EXPECT_EQ(shard.depth.sizes(), (std::vector<int64_t>{4, 30, 52}));
  // A squash scales the two axes apart: fx / fy is the ratio of the scales (the render is square).
  const auto K = shard.intrinsics[0];
  EXPECT_NEAR((K[0][0] / K[1][1]).item<double>(), (52.0 / 48) / (30.0 / 48), 1e-4);
  EXPECT_NE(test_support::run_vidprobe("extract --backbone pixels --gt-size 30y52 --data '" +
                                           (dir / "data").string() + "' --out '" +
                                           (dir / "bad").string() + "'",
                                       log),
            0);
  EXPECT_THAT(read_file(log), HasSubstr("--gt-size"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::features
