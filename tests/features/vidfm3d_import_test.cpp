// `import vidfm3d`: the authors' data and feature files as a feature cache. The frame -> map index
// of every model is checked against the maps their own VideoProbeDataset reads, and an imported
// scene yields their dataset item (tests/fixtures/vidfm3d, tools/make_vidfm3d_fixtures.py).
#include "vidprobe/features/vidfm3d_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <fstream>

#include "test_support.h"
#include "vidprobe/backbones/cogvideox/backbone.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/features/extractor.h"
#include "vidprobe/features/feature_cache.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/probe/batch.h"
#include "vidprobe/probe/views.h"

namespace vidprobe::features {
namespace {
namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

const fs::path kFixtures = fs::path(VIDPROBE_TEST_DATA_DIR) / "vidfm3d";

nlohmann::json views_fixture() {
  std::ifstream in(kFixtures / "views.json");
  return nlohmann::json::parse(in);
}

int64_t maps_of(const nlohmann::json& shape) {
  int64_t maps = 1;
  for (const auto& n : shape) maps *= n.get<int64_t>();
  return maps;
}

// Options importing the `split` of the layout write_their_layout made under `root`: WAN features
// with their postfix, into root/cache.
Vidfm3dImportOptions their_layout_options(const fs::path& root, const std::string& split) {
  Vidfm3dImportOptions options;
  options.data_root = root / "data";
  options.split = split;
  options.features_root = root / "feat";
  options.model = "wan";
  options.postfix = "_t749_layer20";
  options.out_dir = root / "cache";
  options.progress = false;
  return options;
}

TEST(Vidfm3dImport, FeatureIndexIsTheMapTheirDatasetReads) {
  const auto fixture = views_fixture();
  const auto& raw = fixture.at("index_maps").at("raw");
  ASSERT_EQ(raw.size(), vidfm3d_models().size());
  for (const auto& model : vidfm3d_models()) {
    const auto maps = maps_of(fixture.at("index_map_feature_shape").at(model));
    const auto expected = raw.at(model).get<std::vector<int64_t>>();
    const auto index = vidfm3d_feature_index(model, 81, maps);
    for (std::size_t f = 0; f < expected.size(); ++f)
      EXPECT_EQ(index[f], expected[f]) << model << " frame " << f;
    for (const auto& [frame, map] : fixture.at("index_maps").at("snapped").at(model).items())
      EXPECT_EQ(index[std::stoul(frame)], map.get<int64_t>()) << model << " frame " << frame;
  }
  // Frames their views never reach have no map.
  EXPECT_EQ(vidfm3d_feature_index("wan", 81, 21)[80], -1);
  EXPECT_EQ(vidfm3d_feature_index("dino", 150, 150)[100], -1);
  EXPECT_THAT(test_support::error_message([] { vidfm3d_feature_index("sora", 81, 21); }),
              HasSubstr("'sora'"));
}

// The authors' CogVideoX / Aether extraction (their forward_cogvideox / forward_aether, run by
// tools/make_interleaved_clip_fixtures.py) feeds interleaved clips sharing frame 0 and stores
// them clip after clip; vidprobe's interleaved clips, with the VAE's latent of each clip frame,
// give every frame the map their dataset reads (views.json, from their VideoProbeDataset).
TEST(Vidfm3dImport, InterleavedClipsAreTheirClipsAndReadTheMapsTheirDatasetReads) {
  const auto clips_fixture = nlohmann::json::parse(read_file(kFixtures / "interleaved_clips.json"));
  const auto views = views_fixture();
  for (const std::string model : {"cogvideox", "aether"}) {
    SCOPED_TRACE(model);
    const auto& theirs = clips_fixture.at(model);
    const auto window = theirs.at("window").get<int64_t>();
    const auto& clips = theirs.at("clips");
    ASSERT_EQ(clips.size(), 2u);
    const auto clip_frames = static_cast<int64_t>(clips[0].size());
    const auto latents = backbones::cogvideox::latent_frame_of(clip_frames - 1, 4) + 1;
    std::vector<int64_t> stored;
    for (int64_t c = 0; c < 2; ++c) {
      EXPECT_EQ(interleaved_clip_frames(window, 2, c),
                clips.at(static_cast<std::size_t>(c)).get<std::vector<int64_t>>());
      for (int64_t l = 0; l < latents; ++l) stored.push_back(1000 * c + l);
    }
    // Their merged tensor holds clip 0's latents, then clip 1's: the layout the cache stores.
    EXPECT_EQ(theirs.at("stored").get<std::vector<int64_t>>(), stored);
    const auto per_clip = backbones::cogvideox::latent_frame_indices(clip_frames, 4);
    const auto index = interleaved_feature_index(window, {per_clip, per_clip}, {latents, latents});
    ASSERT_EQ(index.size(0), window);
    // Each frame of their clip c at position p reads that clip's latent of p (frame 0: clip 0's).
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t p = 1; p < clip_frames; ++p)
        EXPECT_EQ(index[clips.at(static_cast<std::size_t>(c))
                            .at(static_cast<std::size_t>(p))
                            .get<int64_t>()]
                      .item<int64_t>(),
                  c * latents + backbones::cogvideox::latent_frame_of(p, 4));
    const auto dataset = views.at("index_maps").at("raw").at(model).get<std::vector<int64_t>>();
    for (std::size_t f = 0; f < dataset.size(); ++f)
      EXPECT_EQ(index[static_cast<int64_t>(f)].item<int64_t>(), dataset[f]) << "frame " << f;
    const auto importer = vidfm3d_feature_index(model, window, 2 * latents);
    EXPECT_TRUE(torch::equal(index, torch::tensor(importer, torch::kLong)));
  }
  EXPECT_THAT(test_support::error_message([] { interleaved_clip_frames(96, 2, 0); }),
              HasSubstr("96 frames do not split into 2"));
}

// Their processed root and feature root, from the fixture's two scenes (val split).
fs::path write_their_layout(const fs::path& root) {
  const auto f = load_safetensors(kFixtures / "dataset.safetensors");
  nlohmann::json val = nlohmann::json::array();
  for (int scene = 0; scene < 2; ++scene) {
    const auto prefix = "scene" + std::to_string(scene) + ".";
    const std::string hash = "hash" + std::to_string(scene);
    TensorMap gt;
    for (const char* key :
         {"images", "depthmaps", "pointmaps", "confmaps", "intrinsic", "extrinsic"})
      gt[key] = f.at(prefix + key);
    fs::create_directories(root / "data" / "apple");
    save_safetensors(root / "data" / "apple" / (hash + ".sft"), gt);
    const auto feature_dir = root / "feat" / "wan" / "apple" / hash;
    fs::create_directories(feature_dir);
    save_safetensors(feature_dir / "feature_t749_layer20.sft", {{"feat", f.at(prefix + "feat")}});
    val.push_back({"apple", hash});
  }
  write_file_atomically(root / "data" / "val.json", val.dump());
  write_file_atomically(root / "data" / "train.json", "[]");
  return root;
}

TEST(Vidfm3dImport, ImportedScenesGiveTheirDatasetItems) {
  const auto root =
      fs::temp_directory_path() / ("vidprobe_vidfm3d_import_" + std::to_string(::getpid()));
  fs::remove_all(root);
  write_their_layout(root);
  auto options = their_layout_options(root, "test");
  options.dataset_kind = "co3d";
  const auto summary = import_vidfm3d(options);
  EXPECT_EQ(summary.clips_written, 2);
  EXPECT_EQ(import_vidfm3d(options).clips_skipped, 2);  // resumable

  const auto cache = FeatureCache::open(root / "cache");
  EXPECT_EQ(cache.manifest()["identity"]["dataset_kind"], "co3d");
  EXPECT_EQ(cache.manifest()["feature_dim"], 24);
  const auto f = load_safetensors(kFixtures / "dataset.safetensors");
  // Their validation dataset was given seed=7: default_rng(7 + index).
  auto views = probe::probe_preset("vidfm3d").views;
  views.val_seed = 7;
  const probe::ViewPlan plan(views, 42);
  for (int item = 0; item < 2; ++item) {
    const auto shard = cache.load(cache.clip_ids()[static_cast<std::size_t>(item)]);
    EXPECT_EQ(shard.clip_id, "apple__hash" + std::to_string(item));
    const auto frames = plan.evaluation(shard, static_cast<std::size_t>(item));
    const auto out = "item" + std::to_string(item) + ".";
    EXPECT_TRUE(torch::equal(torch::tensor(frames), f.at(out + "frames")));
    const auto batch = probe::make_batch({probe::with_views(shard, frames)}, plan.scale_from());
    EXPECT_TRUE(torch::equal(batch.features[0].to(torch::kFloat32),
                             f.at(out + "vfm_feat").permute({0, 3, 1, 2})));
    EXPECT_TRUE(torch::allclose(batch.targets.world_points[0],
                                f.at(out + "pmaps").permute({0, 2, 3, 1}), 1e-5, 1e-5));
    EXPECT_TRUE(torch::equal(batch.targets.confidence[0], f.at(out + "cmaps").select(1, 0)));
  }
  fs::remove_all(root);
}

TEST(Vidfm3dImport, MissingFilesAndWrongLayoutsAreNamed) {
  const auto root =
      fs::temp_directory_path() / ("vidprobe_vidfm3d_import_bad_" + std::to_string(::getpid()));
  fs::remove_all(root);
  write_their_layout(root);
  auto options = their_layout_options(root, "val");
  options.postfix.clear();
  // Wrong postfix: the feature file is named.
  EXPECT_THAT(test_support::error_message([&] { import_vidfm3d(options); }),
              HasSubstr("feature.sft"));
  options.postfix = "_t749_layer20";
  options.model = "vjepa";
  fs::create_directories(root / "feat" / "vjepa" / "apple" / "hash0");
  fs::copy_file(root / "feat" / "wan" / "apple" / "hash0" / "feature_t749_layer20.sft",
                root / "feat" / "vjepa" / "apple" / "hash0" / "feature_t749_layer20.sft");
  EXPECT_THAT(test_support::error_message([&] { import_vidfm3d(options); }),
              HasSubstr("vjepa model must have 5 dimensions"));
  options.model = "wan";
  save_safetensors(root / "feat" / "wan" / "apple" / "hash1" / "feature_t749_layer20.sft",
                   {{"features", torch::zeros({21, 3, 5, 24})}});
  EXPECT_THAT(test_support::error_message([&] { import_vidfm3d(options); }),
              HasSubstr("no key 'feat'"));
  write_file_atomically(root / "data" / "val.json", R"([["apple", "hash9"]])");
  EXPECT_THAT(test_support::error_message([&] { import_vidfm3d(options); }),
              HasSubstr("hash9.sft' does not exist"));
  options.split = "dev";
  EXPECT_THAT(test_support::error_message([&] { import_vidfm3d(options); }), HasSubstr("--split"));
  fs::remove_all(root);
}

// Through the command line: import their files, train the paper's probe on them (default preset,
// the fixture's small widths) and evaluate their own trained weights on the same cache.
TEST(Vidfm3dImport, CommandLineImportFeedsTrainAndEval) {
  const auto root =
      fs::temp_directory_path() / ("vidprobe_vidfm3d_import_cli_" + std::to_string(::getpid()));
  fs::remove_all(root);
  write_their_layout(root);
  const auto log = root / "log.txt";
  ASSERT_EQ(test_support::run_vidprobe("import vidfm3d --data '" + (root / "data").string() +
                                           "' --split val --features '" + (root / "feat").string() +
                                           "' --model wan --postfix _t749_layer20 --dataset co3d"
                                           " --out '" +
                                           (root / "cache").string() + "'",
                                       log),
            0)
      << read_file(log);
  ASSERT_EQ(test_support::train_small_probe(root / "cache", root / "run", log), 0)
      << read_file(log);
  const auto config = test_support::write_small_probe_config(root);
  ASSERT_EQ(test_support::run_vidprobe(
                "eval --weights '" + (kFixtures / "probe.safetensors").string() + "' --config '" +
                    config.string() + "' --features '" + (root / "cache").string() + "' --out '" +
                    (root / "theirs").string() + "'",
                log),
            0)
      << read_file(log);
  const auto metrics = nlohmann::json::parse(read_file(root / "theirs" / "metrics.json"));
  EXPECT_EQ(metrics["num_clips"], 2);
  EXPECT_EQ(metrics["vidfm3d"]["paper_comparable"], true);
  fs::remove_all(root);
}

// Found by tools/hostile_campaign.py: a split entry of three names was read as a pair, a scene
// name with '..' was looked up outside the data root, and a depth map stored as I32 was
// converted; the errors now name the split file or the scene file.
TEST(Vidfm3dImport, MalformedSplitEntriesAndIntegerSceneTensorsAreRefused) {
  const auto root = test_support::fresh_temp_dir("vidfm3d_import_hostile");
  write_their_layout(root);
  const auto options = their_layout_options(root, "val");
  const auto split = root / "data" / "val.json";
  const auto expect_split_refused = [&](const std::string& text, const std::string& fragment) {
    write_file_atomically(split, text);
    EXPECT_THAT(test_support::error_message([&] { import_vidfm3d(options); }),
                AllOf(HasSubstr(split.string()), HasSubstr(fragment)))
        << text;
  };
  expect_split_refused(R"([["apple", "hash0", "x"]])", "entry [0] must be a [subset, hash] pair");
  expect_split_refused(R"([["apple", "../../etc/passwd"]])", "not a plain subset or scene name");
  expect_split_refused(R"([["apple", 5]])", "entry [0]");
  expect_split_refused(R"({"apple": "hash0"})", "[subset, hash] pairs");
  expect_split_refused(R"([["apple", "hash9"]])", "hash9.sft' does not exist");

  write_file_atomically(split, R"([["apple", "hash0"]])");
  auto scene = load_safetensors(root / "data" / "apple" / "hash0.sft");
  scene["depthmaps"] = scene["depthmaps"].to(torch::kInt32);
  save_safetensors(root / "data" / "apple" / "hash0.sft", scene);
  EXPECT_THAT(test_support::error_message([&] { import_vidfm3d(options); }),
              AllOf(HasSubstr("hash0.sft"), HasSubstr("'depthmaps' must be floating point")));
  fs::remove_all(root);
}

}  // namespace
}  // namespace vidprobe::features
