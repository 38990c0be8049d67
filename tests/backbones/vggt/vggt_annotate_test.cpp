// `vidprobe annotate` on a tiny rendered set with the small fixture VGGT
// (tests/fixtures/backbones/vggt): the output re-opens as a dataset, `vidprobe extract` consumes
// it, a second run resumes (skips everything), and --shard i/n splits the clips.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "backbones/checkpoint_test_support.h"
#include "test_support.h"
#include "vidprobe/backbones/vggt/annotate.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/data/clip_sampling.h"
#include "vidprobe/data/dataset.h"
#include "vidprobe/data/pil_resample.h"
#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/data/vidfm3d_processing.h"
#include "vidprobe/features/extractor.h"
#include "vidprobe/features/feature_cache.h"
#include "vidprobe/features/vidfm3d_import.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/image.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

nlohmann::json small_config_json() {
  std::ifstream in(testing::fixture("vggt", "meta.json"));
  return nlohmann::json::parse(in).at("small");
}

class VggtAnnotateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("vidprobe_annotate_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    ASSERT_EQ(test_support::run_vidprobe(
                  "render --family objects --clips 3 --frames 4 --size 48 --seed 2 --out '" +
                      (root_ / "data").string() + "'",
                  root_ / "render.log"),
              0)
        << read_file(root_ / "render.log");
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static AnnotateOptions options(const std::string& out) {
    AnnotateOptions o;
    o.dataset_root = root_ / "data";
    o.weights = testing::fixture("vggt", "small.safetensors").string();
    o.config = vggt_config_from_json(small_config_json());
    o.image_size = 56;
    o.frames = 3;
    o.out_dir = root_ / out;
    return o;
  }

  static fs::path root_;
};
fs::path VggtAnnotateTest::root_;

TEST_F(VggtAnnotateTest, WritesClipsThatReopenAsADatasetAndFeedExtract) {
  const auto summary = annotate_with_vggt(options("annotated"));
  EXPECT_EQ(summary.clips_written, 3);
  EXPECT_EQ(summary.clips_skipped, 0);

  const auto dataset = open_dataset("synthetic", root_ / "annotated");
  ASSERT_EQ(dataset->sequences().size(), 3u);
  const auto clip = dataset->load_clip(dataset->sequences().front(), {0, 1, 2});
  ASSERT_EQ(clip.frames.size(), 3u);
  const auto& first = clip.frames.front();
  EXPECT_EQ(first.camera.width, 56);
  EXPECT_EQ(first.camera.height, 56);
  // The first camera is VGGT's world frame: identity rotation, zero translation up to the
  // (small, random) predicted encoding; principal point at the image centre as VGGT decodes it.
  EXPECT_DOUBLE_EQ(first.camera.K[2], 28.0);
  EXPECT_DOUBLE_EQ(first.camera.K[5], 28.0);
  std::size_t valid = 0;
  for (std::size_t p = 0; p < first.valid.pixels.size(); ++p) {
    valid += first.valid.pixels[p];
    EXPECT_EQ(first.valid.pixels[p] != 0, first.depth.pixels[p] > 0);
  }
  EXPECT_GT(valid, 0u);
  EXPECT_LT(valid, first.valid.pixels.size());  // the 30th percentile of confidence is cut
  // The continuous confidence (1 + exp) is kept beside the mask, on every pixel.
  ASSERT_EQ(first.confidence.pixels.size(), first.depth.pixels.size());
  for (const float c : first.confidence.pixels) EXPECT_GT(c, 1.0f);
  const auto meta = read_synthetic_clip_json(root_ / "annotated" / dataset->sequences().front());
  EXPECT_EQ(meta["meta"]["generator"], "vidprobe annotate");
  EXPECT_EQ(meta["meta"]["source"]["dataset"], "synthetic");

  features::ExtractOptions extract;
  extract.backbone = "pixels";
  extract.dataset_root = root_ / "annotated";
  extract.frames = 3;
  extract.gt_size = 28;
  extract.cache_dtype = torch::kFloat32;
  extract.out_dir = root_ / "feats";
  const auto extracted = features::extract_features(extract);
  EXPECT_EQ(extracted.clips_written, 3);
  const auto cache = features::FeatureCache::open(root_ / "feats");
  EXPECT_EQ(cache.clip_ids().size(), 3u);
  // extract carries it into the shard, the tensor the GT-confidence losses read.
  const auto shard = cache.load(cache.clip_ids().front());
  ASSERT_TRUE(shard.confidence.defined());
  EXPECT_GT(shard.confidence.min().item<float>(), 1.0f);
}

// A CO3D-layout set of one sequence: 3 frames of 64 x 36, the left half of each mask foreground.
void write_co3d_fixture(const fs::path& root) {
  const fs::path sequence = root / "toy" / "seq";
  fs::create_directories(sequence / "images");
  fs::create_directories(sequence / "masks");
  nlohmann::json frames = nlohmann::json::array();
  for (int n = 0; n < 3; ++n) {
    const std::string stem = "frame00000" + std::to_string(n);
    ImageU8 image(64, 36, 3, 0), mask(64, 36, 1, 0);
    for (int y = 0; y < 36; ++y)
      for (int x = 0; x < 64; ++x) {
        for (int c = 0; c < 3; ++c) image.at(x, y, c) = static_cast<std::uint8_t>(x * 3 + y + n);
        mask.at(x, y) = x < 32 ? 255 : 0;
      }
    write_png(sequence / "images" / (stem + ".png"), image);
    write_png(sequence / "masks" / (stem + ".png"), mask);
    frames.push_back({{"sequence_name", "seq"},
                      {"frame_number", n},
                      {"image", {{"path", "toy/seq/images/" + stem + ".png"}, {"size", {36, 64}}}},
                      {"mask", {{"path", "toy/seq/masks/" + stem + ".png"}}},
                      {"viewpoint",
                       {{"R", {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}},
                        {"T", {0.1 * n, 0, 3}},
                        {"focal_length", {2, 2}},
                        {"principal_point", {0, 0}}}}});
  }
  write_gzip_file(root / "toy" / "frame_annotations.jgz", frames.dump());
}

TEST_F(VggtAnnotateTest, Vidfm3dFormatWritesCo3dMasksThatImportAsTheirUseMask) {
  write_co3d_fixture(root_ / "co3d");
  auto o = options("co3d_theirs");
  o.dataset_kind = "co3d";
  o.dataset_root = root_ / "co3d";
  o.format = "vidfm3d";
  o.frames = 0;
  o.conf_percentile = 0;
  EXPECT_EQ(annotate_with_vggt(o).clips_written, 1);
  const auto scene = root_ / "co3d_theirs" / "toy" / "seq.sft";
  const auto t = load_safetensors(scene);
  ASSERT_TRUE(t.contains("masks"));
  const auto masks = t.at("masks");
  EXPECT_EQ(masks.scalar_type(), torch::kBool);
  EXPECT_EQ(masks.sizes(), (std::vector<int64_t>{3, 28, 56, 1}));  // 64 x 36 -> 56 x 28
  // Foreground left, background right; the bicubic edge lies between.
  EXPECT_TRUE(masks.slice(2, 0, 24).all().item<bool>());
  EXPECT_FALSE(masks.slice(2, 32, 56).any().item<bool>());

  const auto dir = root_ / "co3d_feat" / "dino" / "toy" / "seq";
  fs::create_directories(dir);
  save_safetensors(dir / "feature.sft", {{"feat", torch::randn({3, 2, 4, 8}).to(torch::kHalf)}});
  features::Vidfm3dImportOptions import;
  import.data_root = root_ / "co3d_theirs";
  import.split = "val";  // one scene: max(1, int(0.1)) = 1 validation scene
  import.features_root = root_ / "co3d_feat";
  import.model = "dino";
  import.dataset_kind = "co3d";
  import.use_mask = true;
  import.out_dir = root_ / "co3d_cache";
  import.progress = false;
  EXPECT_EQ(features::import_vidfm3d(import).clips_written, 1);
  const auto shard = features::FeatureCache::open(root_ / "co3d_cache").load("toy__seq");
  EXPECT_TRUE(torch::equal(shard.valid.to(torch::kBool), masks.squeeze(-1)));
}

// The sequences the vidfm3d CO3D processing rejects are listed in <out>/rejected.json with their
// reason (the 3-frame fixture has no 81-frame window); a run that drops none writes [].
TEST_F(VggtAnnotateTest, RejectedSequencesAreListedInTheOutputDirectory) {
  write_co3d_fixture(root_ / "co3d_short");
  auto o = options("co3d_rejected");
  o.dataset_kind = "co3d";
  o.dataset_root = root_ / "co3d_short";
  o.co3d_crop = "vidfm3d";
  o.frames = 0;
  const auto summary = annotate_with_vggt(o);
  EXPECT_EQ(summary.clips_written, 0);
  EXPECT_EQ(summary.sequences_rejected, 1);
  EXPECT_EQ(summary.rejected_file, root_ / "co3d_rejected" / "rejected.json");
  EXPECT_EQ(nlohmann::json::parse(read_file(summary.rejected_file)),
            nlohmann::json::parse(R"([{"sequence": "toy/seq", "category": "toy",
                                       "reason": "rejected - trunc=1.0000  upx=inf",
                                       "truncation": 1.0, "upsample": null}])"));

  const auto none = annotate_with_vggt(options("none_rejected"));
  EXPECT_EQ(none.sequences_rejected, 0);
  EXPECT_EQ(nlohmann::json::parse(read_file(none.rejected_file)), nlohmann::json::array());
}

TEST_F(VggtAnnotateTest, Co3dCropIsRefusedForOtherDatasets) {
  auto o = options("co3d_crop_synthetic");
  o.co3d_crop = "vidfm3d";
  EXPECT_THAT([&] { annotate_with_vggt(o); },
              ::testing::ThrowsMessage<Error>(HasSubstr("--co3d-crop vidfm3d")));
}

TEST_F(VggtAnnotateTest, ResumesAndShards) {
  auto first = options("sharded");
  first.shard_index = 0;
  first.shard_count = 2;
  EXPECT_EQ(annotate_with_vggt(first).clips_written, 2);
  auto second = options("sharded");
  second.shard_index = 1;
  second.shard_count = 2;
  EXPECT_EQ(annotate_with_vggt(second).clips_written, 1);
  EXPECT_EQ(list_synthetic_clips(root_ / "sharded").size(), 3u);
  const auto again = annotate_with_vggt(options("sharded"));
  EXPECT_EQ(again.clips_written, 0);
  EXPECT_EQ(again.clips_skipped, 3);
}

TEST_F(VggtAnnotateTest, CommandLineRunsWithAModelConfig) {
  const auto config = root_ / "small.json";
  write_file_atomically(config, small_config_json().dump());
  const auto log = root_ / "annotate.log";
  ASSERT_EQ(
      test_support::run_vidprobe(
          "annotate --data '" + (root_ / "data").string() + "' --weights '" +
              testing::fixture("vggt", "small.safetensors").string() + "' --model-config '" +
              config.string() + "' --backbone-size 56 --frames 2 --clips 2 --shard 0/1 --out '" +
              (root_ / "cli").string() + "'",
          log),
      0)
      << read_file(log);
  EXPECT_THAT(read_file(log), HasSubstr("2 clips written"));
  EXPECT_EQ(list_synthetic_clips(root_ / "cli").size(), 2u);
}

// Their pointmaps: x_cam = ((u - cx) z / fx, (v - cy) z / fy, z), world = R^T (x_cam - t)
// (vggt/utils/geometry.py unproject_depth_map_to_point_map), written out per pixel.
torch::Tensor their_unprojection(const torch::Tensor& depth, const torch::Tensor& K,
                                 const torch::Tensor& E) {
  const auto d = depth.to(torch::kFloat64), k = K.to(torch::kFloat64), e = E.to(torch::kFloat64);
  const int64_t S = d.size(0), H = d.size(1), W = d.size(2);
  auto out = torch::zeros({S, H, W, 3}, torch::kFloat64);
  auto o = out.accessor<double, 4>();
  const auto da = d.accessor<double, 3>();
  const auto ka = k.accessor<double, 3>();
  const auto ea = e.accessor<double, 3>();
  for (int64_t s = 0; s < S; ++s)
    for (int64_t v = 0; v < H; ++v)
      for (int64_t u = 0; u < W; ++u) {
        const double z = da[s][v][u];
        const double c[3] = {(u - ka[s][0][2]) * z / ka[s][0][0],
                             (v - ka[s][1][2]) * z / ka[s][1][1], z};
        for (int i = 0; i < 3; ++i) {
          double acc = 0;
          for (int j = 0; j < 3; ++j) acc += ea[s][j][i] * (c[j] - ea[s][j][3]);
          o[s][v][u][i] = acc;
        }
      }
  return out;
}

TEST_F(VggtAnnotateTest, Vidfm3dFormatKeepsConfidenceAndUnprojectedPointsAndImports) {
  auto o = options("theirs");
  o.format = "vidfm3d";
  o.frames = 0;  // every frame, as their 81 / 150-frame windows
  o.conf_percentile = 0;
  o.frame_chunk = 3;  // 4 frames: chunks of 3 and 1
  EXPECT_EQ(annotate_with_vggt(o).clips_written, 3);
  const auto scene = root_ / "theirs" / "synthetic" / "objects_00000.sft";
  ASSERT_TRUE(fs::exists(scene));
  const auto t = load_safetensors(scene);
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t.at("images").sizes(), (std::vector<int64_t>{4, 3, 56, 56}));
  EXPECT_EQ(t.at("images").scalar_type(), torch::kUInt8);
  {  // the pixels VGGT saw, through their (x / 255 * 255).to(uint8): equal or one level lower
    const auto source = open_dataset("synthetic", root_ / "data");
    const auto clip = source->load_clip("objects_00000", {0, 1, 2, 3});
    std::vector<torch::Tensor> frames;
    for (const auto& frame : clip.frames) {
      const auto rgb = vggt_crop_preprocess(frame, 56, 14).rgb;
      frames.push_back(
          torch::tensor(std::vector<std::uint8_t>(rgb.pixels.begin(), rgb.pixels.end()))
              .view({rgb.height, rgb.width, 3})
              .permute({2, 0, 1}));
    }
    const auto lower = torch::stack(frames).to(torch::kInt32) - t.at("images").to(torch::kInt32);
    EXPECT_TRUE(((lower == 0) | (lower == 1)).all().item<bool>());
    EXPECT_GT((lower == 0).sum().item<int64_t>(), lower.numel() / 2);
  }
  EXPECT_EQ(t.at("depthmaps").sizes(), (std::vector<int64_t>{4, 56, 56, 1}));
  EXPECT_EQ(t.at("confmaps").sizes(), (std::vector<int64_t>{4, 56, 56, 1}));
  EXPECT_EQ(t.at("pointmaps").sizes(), (std::vector<int64_t>{4, 56, 56, 3}));
  EXPECT_EQ(t.at("intrinsic").sizes(), (std::vector<int64_t>{4, 3, 3}));
  EXPECT_EQ(t.at("extrinsic").sizes(), (std::vector<int64_t>{4, 3, 4}));
  EXPECT_EQ(t.at("start_idx").item<int>(), 0);
  // The confidence is VGGT's continuous depth_conf (1 + exp): > 1 and not a 0/1 mask.
  const auto conf = t.at("confmaps");
  EXPECT_TRUE((conf > 1).all().item<bool>());
  EXPECT_GT(std::get<0>(torch::_unique(conf.flatten())).numel(), 100);
  // Points are the depth unprojected with the decoded cameras (their formula).
  const auto expected =
      their_unprojection(t.at("depthmaps").squeeze(-1), t.at("intrinsic"), t.at("extrinsic"));
  EXPECT_TRUE(torch::allclose(t.at("pointmaps").to(torch::kFloat64), expected, 1e-4, 1e-5));
  // Same depth and confidence as the un-chunked reference forward.
  o.frame_chunk = 1;
  o.out_dir = root_ / "theirs_chunk1";
  annotate_with_vggt(o);
  const auto t1 = load_safetensors(root_ / "theirs_chunk1" / "synthetic" / "objects_00000.sft");
  EXPECT_TRUE(torch::allclose(t1.at("depthmaps"), t.at("depthmaps"), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(t1.at("confmaps"), t.at("confmaps"), 1e-5, 1e-6));
  // Their split: 3 scenes, max(1, int(0.3)) = 1 validation scene.
  const auto train = nlohmann::json::parse(read_file(root_ / "theirs" / "train.json"));
  const auto val = nlohmann::json::parse(read_file(root_ / "theirs" / "val.json"));
  EXPECT_EQ(train.size(), 2u);
  ASSERT_EQ(val.size(), 1u);
  EXPECT_EQ(val[0][0], "synthetic");

  // `vidprobe import vidfm3d` reads it like their files, confidence included.
  for (const auto& entry : train) {
    const auto dir =
        root_ / "theirs_feat" / "dino" / entry[0].get<std::string>() / entry[1].get<std::string>();
    fs::create_directories(dir);
    save_safetensors(dir / "feature.sft", {{"feat", torch::randn({4, 2, 3, 8}).to(torch::kHalf)}});
  }
  features::Vidfm3dImportOptions import;
  import.data_root = root_ / "theirs";
  import.split = "train";
  import.features_root = root_ / "theirs_feat";
  import.model = "dino";
  import.dataset_kind = "co3d";  // recorded for reports; the importer knows co3d and dl3dv
  import.out_dir = root_ / "theirs_cache";
  import.progress = false;
  EXPECT_EQ(features::import_vidfm3d(import).clips_written, 2);
  const auto cache = features::FeatureCache::open(root_ / "theirs_cache");
  const auto id = train[0][1].get<std::string>();
  const auto shard = cache.load("synthetic__" + id);
  const auto gt = load_safetensors(root_ / "theirs" / "synthetic" / (id + ".sft"));
  ASSERT_TRUE(shard.confidence.defined());
  EXPECT_TRUE(torch::equal(shard.confidence, gt.at("confmaps").squeeze(-1)));
}

TEST_F(VggtAnnotateTest, PrefetchingChangesNothingWritten) {
  auto inline_read = options("read_inline");
  inline_read.format = "vidfm3d";
  inline_read.prefetch = 0;
  auto read_ahead = inline_read;
  read_ahead.out_dir = root_ / "read_ahead";
  read_ahead.prefetch = 2;
  EXPECT_EQ(annotate_with_vggt(inline_read).clips_written, 3);
  EXPECT_EQ(annotate_with_vggt(read_ahead).clips_written, 3);
  for (const auto* name : {"objects_00000.sft", "objects_00001.sft", "objects_00002.sft"}) {
    const auto a = load_safetensors(inline_read.out_dir / "synthetic" / name);
    const auto b = load_safetensors(read_ahead.out_dir / "synthetic" / name);
    ASSERT_EQ(a.size(), b.size()) << name;
    for (const auto& [key, tensor] : a)
      EXPECT_TRUE(torch::equal(tensor, b.at(key))) << name << " " << key;
  }
}

TEST_F(VggtAnnotateTest, WindowTakesConsecutiveFramesFromASeededStart) {
  auto o = options("window");
  o.window = 3;
  o.format = "vidfm3d";
  o.clips = 1;
  annotate_with_vggt(o);
  const auto path = root_ / "window" / "synthetic" / "objects_00000.sft";
  const auto t = load_safetensors(path);
  EXPECT_EQ(t.at("images").size(0), 3);
  const int start = t.at("start_idx").item<int>();
  const auto sequence_seed = SplitMix64(o.seed ^ stable_hash("objects_00000")).next();
  EXPECT_EQ(start, dl3dv_window_start(4, 3, sequence_seed));
  EXPECT_TRUE(start == 0);  // randrange(1): the last start (1) is never drawn, as theirs
}

// The DPT levels read blocks 1, 2, 3, 3 (not block 0, as VGGT-1B's 4, 11, 17, 23): a chunk holds
// only the read blocks' tokens, which the head must find by its own layer indices.
TEST(VggtAnnotate, ChunkedDepthAndCamerasEqualTheFullForward) {
  torch::manual_seed(0);
  auto config = small_config_json();
  config["dpt_layers"] = {1, 2, 3, 3};
  VggtModel model(vggt_config_from_json(config));
  model->eval();
  torch::NoGradGuard no_grad;
  const auto images = torch::rand({1, 5, 3, 28, 56});
  const auto full = model->forward(images);
  for (const int64_t chunk : {1, 2, 5, 8}) {
    const auto part = model->forward_depth_and_cameras(images, chunk);
    EXPECT_TRUE(torch::allclose(part.depth, full.depth, 1e-5, 1e-6)) << chunk;
    EXPECT_TRUE(torch::allclose(part.depth_conf, full.depth_conf, 1e-5, 1e-6)) << chunk;
    ASSERT_EQ(part.pose_encodings.size(), full.pose_encodings.size());
    for (std::size_t i = 0; i < full.pose_encodings.size(); ++i)
      EXPECT_TRUE(torch::allclose(part.pose_encodings[i], full.pose_encodings[i], 1e-5, 1e-6));
    EXPECT_FALSE(part.world_points.defined());  // no point head: points come from depth
  }
  EXPECT_THROW(model->forward_depth_and_cameras(images, 0), Error);
}

TEST(VggtAnnotate, CropPreprocessingIsVggtsLoadAndPreprocess) {
  Frame frame;
  frame.rgb = ImageU8(960, 540, 3);
  for (std::size_t i = 0; i < frame.rgb.pixels.size(); ++i)
    frame.rgb.pixels[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 24);
  frame.camera.width = 960;
  frame.camera.height = 540;
  frame.camera.K = {800, 0, 479.5, 0, 800, 269.5, 0, 0, 1};
  const auto out = vggt_crop_preprocess(frame, 518, 14);
  EXPECT_EQ(out.camera.width, 518);
  EXPECT_EQ(out.camera.height, 294);  // round(540 * 518 / 960 / 14) * 14
  EXPECT_EQ(out.rgb.pixels, pil_resize(frame.rgb, 518, 294, PilFilter::kBicubic).pixels);
  EXPECT_DOUBLE_EQ(out.camera.K[0], 800.0 * 518 / 960);
  EXPECT_DOUBLE_EQ(out.camera.K[4], 800.0 * 294 / 540);
  // Portrait: 518 wide, 924 high before the centre crop to 518 rows.
  Frame tall;
  tall.rgb = ImageU8(540, 960, 3);
  tall.camera.width = 540;
  tall.camera.height = 960;
  tall.camera.K = {800, 0, 269.5, 0, 800, 479.5, 0, 0, 1};
  const auto cropped = vggt_crop_preprocess(tall, 518, 14);
  EXPECT_EQ(cropped.camera.width, 518);
  EXPECT_EQ(cropped.camera.height, 518);
}

TEST(VggtAnnotate, RejectsBadOptions) {
  EXPECT_THAT(testing::error_message([] { parse_shard("2/2"); }), HasSubstr("0 <= i < n"));
  EXPECT_THAT(testing::error_message([] { parse_shard("a/b"); }), HasSubstr("'a/b'"));
  EXPECT_EQ(parse_shard("1/4"), (std::pair<int, int>{1, 4}));
  EXPECT_THAT(testing::error_message([] {
                vggt_config_from_json({{"widht", 3}});
              }),
              HasSubstr("unknown key 'widht'"));
  AnnotateOptions o;
  o.out_dir = "/tmp/unused";
  o.dataset_root = "/tmp/unused";
  EXPECT_THAT(testing::error_message([&] { annotate_with_vggt(o); }), HasSubstr("--weights"));
  o.weights = "x";
  o.image_size = 500;
  EXPECT_THAT(testing::error_message([&] { annotate_with_vggt(o); }),
              HasSubstr("--backbone-size 500"));
  o.image_size = 518;
  o.prefetch = -1;
  EXPECT_THAT(testing::error_message([&] { annotate_with_vggt(o); }), HasSubstr("--prefetch"));
}

}  // namespace
}  // namespace vidprobe::backbones
