// End to end through the CLI: `vidprobe extract --preset vidfm3d --backbone vjepa1-vitl16` with a
// real-size pre-training checkpoint (.pth.tar: random values, written here with libtorch's
// torch.save-compatible pickler; the reader's parity with Python's torch.save is the fixture's, see
// vjepa1_test.cpp) splits each clip into the paper's spaced clips, stores each (clip, token) map
// once, and the cache trains a probe.
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <filesystem>
#include <fstream>

#include "backbones/checkpoint_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/video_tokens.h"
#include "vidprobe/backbones/vjepa/vjepa1.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/features/feature_cache.h"

namespace vidprobe::backbones {
namespace {

namespace fs = std::filesystem;

// {"encoder": {"module.backbone.<key>": tensor}, "epoch": 300} as the published files nest it
// (bfloat16 values keep the file at 0.6 GB; loading converts them to the model's float32).
void write_pretraining_checkpoint(const fs::path& path, const std::string& size) {
  torch::manual_seed(5);
  c10::Dict<std::string, at::Tensor> encoder;
  for (const auto& [key, shape] : vjepa1_layout(vjepa1_config(size)))
    encoder.insert("module.backbone." + key, (torch::randn(shape) * 0.02).to(torch::kBFloat16));
  c10::impl::GenericDict checkpoint(c10::StringType::get(), c10::AnyType::get());
  checkpoint.insert("encoder", encoder);
  checkpoint.insert("epoch", int64_t{300});
  const auto bytes = torch::jit::pickle_save(checkpoint);
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(VJEPA1Cli, ExtractWithThePapersPartitionFeedsTrain) {
  const auto dir = testing::temporary_path("vjepa1_cli");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto log = dir / "log.txt";
  write_pretraining_checkpoint(dir / "vitl16.pth.tar", "vjepa1-vitl16");
  ASSERT_EQ(test_support::run_vidprobe("render --family objects --clips 3 --frames 16 --size 32 "
                                       "--seed 1 --out '" +
                                           (dir / "data").string() + "'",
                                       log),
            0)
      << read_file(log);
  // The preset's 76 frames at 480 x 832 are too much for a CPU test: 16 frames (5 clips of 4) at
  // 32 x 32 through the same path.
  // (A length the partition refuses is tested in process: VJEPA1.SpacedClipsRunEach...)
  const auto extract = [&](int frames, const fs::path& out) {
    return test_support::run_vidprobe(
        "extract --preset vidfm3d --backbone vjepa1-vitl16 --weights '" +
            (dir / "vitl16.pth.tar").string() + "' --data '" + (dir / "data").string() +
            "' --frames " + std::to_string(frames) +
            " --backbone-opt size=32x32 --input-processor none --gt-size 32 --out '" +
            out.string() + "'",
        log);
  };
  ASSERT_EQ(extract(16, dir / "features"), 0) << read_file(log);
  const auto cache = features::FeatureCache::open(dir / "features");
  EXPECT_EQ(cache.manifest()["feature_dim"], 1024);
  EXPECT_EQ(cache.manifest()["identity"]["layer"], 23);
  const auto shard = cache.load(cache.clip_ids().at(0));
  EXPECT_EQ(shard.features.sizes(), (std::vector<int64_t>{10, 1024, 2, 2}));  // 5 clips x 2 maps
  EXPECT_TRUE(torch::equal(shard.feature_index, spaced_partition(16, 5, 2).frame_index));

  const auto config = dir / "small.json";
  write_file_atomically(config, R"({
    "model": {"width": 64},
    "heads": {"dense": {"features": 16, "out_channels": [8, 16, 32, 32]}},
    "views": {"context": 16},
    "train": {"epochs": 1, "batch_size": 2}
  })");
  ASSERT_EQ(test_support::run_vidprobe("train --features '" + (dir / "features").string() +
                                           "' --config '" + config.string() + "' --out '" +
                                           (dir / "run").string() + "'",
                                       log),
            0)
      << read_file(log);
  EXPECT_TRUE(fs::exists(dir / "run"));

  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::backbones
