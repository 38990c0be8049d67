// End to end through the CLI: `vidprobe extract --backbone dinov2-vits14 --weights DIR` with a
// real-size checkpoint in the hub layout (random values, written here) feeds a feature cache;
// a checkpoint of another size is refused with the strict-loading message and a failing exit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "backbones/checkpoint_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/dinov2/dinov2.h"
#include "vidprobe/core/atomic_file.h"

namespace vidprobe::backbones {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(CheckpointCli, ExtractLoadsARealSizeHubCheckpointAndRefusesAnotherSize) {
  const auto dir = testing::temporary_path("cli");
  fs::remove_all(dir);
  fs::create_directories(dir / "weights");
  // dinov2-vits14 in the transformers layout, as facebook/dinov2-small is published.
  torch::manual_seed(3);
  TensorMap weights;
  for (const auto& [key, shape] : dinov2_hub_layout(dinov2_config("dinov2-vits14")))
    weights[key] = torch::randn(shape) * 0.02;
  save_safetensors(dir / "weights" / "model.safetensors", weights);

  ASSERT_EQ(test_support::run_vidprobe(
                "render --family objects --clips 1 --frames 4 --size 32 --seed 1 --out '" +
                    (dir / "data").string() + "'",
                dir / "render.log"),
            0)
      << read_file(dir / "render.log");
  const std::string common = " --weights '" + (dir / "weights").string() + "' --data '" +
                             (dir / "data").string() + "' --frames 4 --gt-size 32 --out ";
  ASSERT_EQ(test_support::run_vidprobe("extract --backbone dinov2-vits14" + common + "'" +
                                           (dir / "features").string() + "'",
                                       dir / "extract.log"),
            0)
      << read_file(dir / "extract.log");
  const auto manifest = nlohmann::json::parse(read_file(dir / "features" / "manifest.json"));
  EXPECT_EQ(manifest["feature_dim"], 384);
  EXPECT_EQ(manifest["identity"]["layer"], 11);
  EXPECT_EQ(manifest["clips"].size(), 1u);

  EXPECT_NE(test_support::run_vidprobe(
                "extract --backbone dinov2-vitb14" + common + "'" + (dir / "wrong").string() + "'",
                dir / "wrong.log"),
            0);
  const auto message = read_file(dir / "wrong.log");
  EXPECT_THAT(message, HasSubstr("does not match the architecture DINOv2 (width 768"));
  EXPECT_THAT(message,
              HasSubstr("embeddings.cls_token: expected [1, 1, 768], checkpoint has [1, 1, 384]"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::backbones
