#include "vidprobe/backbones/benchmark.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"

namespace vidprobe::backbones {
namespace {

// A short CPU run: no warm-up, a few clips.
BackboneBenchOptions short_run(const std::string& backbone, int frames, int iterations) {
  BackboneBenchOptions options;
  options.backbone = backbone;
  options.frames = frames;
  options.warmup = 0;
  options.iterations = iterations;
  return options;
}

// DINOv2 ViT-S/14 at 224 px: 2 frames are 2 sequences of 1 + 16 x 16 tokens through all 12 blocks.
// The counted FLOPs are the closed form 2 B n (4 d^2 + 2 d f) + 4 B n^2 d per block, and the MFUs
// follow from them and the measured times.
TEST(BackboneBenchmark, ReportsStagesCountedFlopsAndMfu) {
  const auto result = benchmark_backbone(short_run("dinov2-vits14", 2, 2));
  const double b = 2, n = 257, d = 384, f = 1536;
  const double flops = 12 * (2 * b * n * (4 * d * d + 2 * d * f) + 4 * b * n * n * d);
  EXPECT_DOUBLE_EQ(result.at("tflop_per_clip").get<double>(), flops / 1e12);
  const auto& stage = result.at("stages").at("transformer");
  EXPECT_DOUBLE_EQ(stage.at("tflop_per_clip").get<double>(), flops / 1e12);
  EXPECT_GT(stage.at("ms_per_clip").get<double>(), 0.0);
  EXPECT_EQ(result.at("stage_clips").get<int>(), 1);
  EXPECT_DOUBLE_EQ(result.at("mfu").get<double>(),
                   flops * result.at("clips_per_s").get<double>() / 989e12);
  EXPECT_NEAR(result.at("transformer_mfu").get<double>(),
              flops / (stage.at("ms_per_clip").get<double>() / 1000) / 989e12,
              1e-9 * result.at("transformer_mfu").get<double>());
  EXPECT_FALSE(result.contains("backbone_opts"));
}

// The family settings given are in the line (a table pairs a WAN line with a reference at the same
// VAE precision by them), and they took effect.
TEST(BackboneBenchmark, RecordsTheFamilySettingsItWasGiven) {
  auto options = short_run("dinov2-vits14", 1, 1);
  options.extra = {{"size", "28x42"}};
  const auto result = benchmark_backbone(options);
  EXPECT_EQ(result.at("backbone_opts"), nlohmann::json({{"size", "28x42"}}));
  EXPECT_EQ(result.at("height").get<int>(), 28);
  EXPECT_EQ(result.at("width").get<int>(), 42);
}

// --profile's clip runs under a stage meter, so the profile splits its kernels by stage: the
// transformer's operators are there, in the summary line and in the full kernels.json.
TEST(BackboneBenchmark, TheProfileHoldsTheTransformerStageApart) {
  auto options = short_run("dinov2-vits14", 1, 1);
  options.extra = {{"size", "28x28"}};
  options.profile_dir = test_support::fresh_temp_dir("backbone_bench_profile");
  const auto result = benchmark_backbone(options);
  const auto& summary = result.at("profile");
  const double stage_ms = summary.at("stages").at("transformer").at("total_ms").get<double>();
  EXPECT_GT(stage_ms, 0.0);
  EXPECT_LE(stage_ms, summary.at("total_ms").get<double>());
  const auto full = nlohmann::json::parse(read_file(options.profile_dir / "kernels.json"));
  const auto& kernels = full.at("stages").at("transformer").at("kernels");
  EXPECT_TRUE(std::any_of(kernels.begin(), kernels.end(), [](const nlohmann::json& kernel) {
    return kernel.at("name") == "aten::addmm";
  })) << kernels.dump(1);
}

// A backbone without transformer blocks has no FLOPs to report and no MFU.
TEST(BackboneBenchmark, NoMfuWithoutATransformerStage) {
  const auto result = benchmark_backbone(short_run("pixels", 2, 1));
  EXPECT_TRUE(result.at("stages").empty());
  EXPECT_FALSE(result.contains("mfu"));
  EXPECT_FALSE(result.contains("tflop_per_clip"));
}

}  // namespace
}  // namespace vidprobe::backbones
