// The vidfm3d preset against the authors' own code (zxhuang1698/VidFM3D): golden outputs of their
// ProbeModelPA, losses, metrics, view-0 normalisation, learning-rate schedule and dataset item,
// written by tools/make_vidfm3d_fixtures.py into tests/fixtures/vidfm3d/ (see meta.json there
// for the library versions). Everything here is float32 on the CPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vidprobe/geometry/camera.h"
#include "vidprobe/geometry/normalization.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/metrics/vidfm3d_metrics.h"
#include "vidprobe/probe/batch.h"
#include "vidprobe/probe/checkpoint.h"
#include "vidprobe/probe/losses.h"
#include "vidprobe/probe/probe_model.h"
#include "vidprobe/probe/reference_names.h"
#include "vidprobe/probe/schedule.h"
#include "vidprobe/probe/trainer.h"
#include "vidprobe/probe/views.h"

namespace vidprobe::probe {
namespace {
namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(VIDPROBE_TEST_DATA_DIR) / "vidfm3d";

TensorMap fixture(const std::string& name) {
  return load_safetensors(kFixtures / name);
}

nlohmann::json json_fixture(const std::string& name) {
  std::ifstream in(kFixtures / name);
  return nlohmann::json::parse(in);
}

// |a - b| <= atol + rtol |b| everywhere, with the worst offender in the message.
::testing::AssertionResult close(const torch::Tensor& actual, const torch::Tensor& expected,
                                 double rtol = 1e-5, double atol = 1e-6) {
  const auto a = actual.to(torch::kFloat64).cpu(), b = expected.to(torch::kFloat64).cpu();
  if (a.sizes() != b.sizes())
    return ::testing::AssertionFailure() << "shape " << a.sizes() << " vs expected " << b.sizes();
  const auto excess = (a - b).abs() - (atol + rtol * b.abs());
  const double worst = excess.max().item<double>();
  if (worst <= 0) return ::testing::AssertionSuccess();
  const auto at = excess.flatten().argmax().item<int64_t>();
  return ::testing::AssertionFailure()
         << "exceeds tolerance by " << worst << " at flat index " << at << ": "
         << a.flatten()[at].item<double>() << " vs " << b.flatten()[at].item<double>();
}

// The fixture's small ProbeModelPA: 24 channels, width 64, 16 heads, DPT 16 / [8, 16, 32, 32].
ProbeConfig small_config() {
  auto config = probe_preset("vidfm3d");
  config.model.width = 64;
  config.heads.dense.features = 16;
  config.heads.dense.out_channels = {8, 16, 32, 32};
  return config;
}

ProbeModel authors_model() {
  ProbeModel model(small_config(), 24);
  load_weights(kFixtures / "probe.safetensors", *model);  // their key names
  model->eval();
  return model;
}

ProbeTargets targets_from(const TensorMap& f, const std::string& prefix) {
  ProbeTargets t;
  t.world_points = f.at(prefix + "pmaps").permute({0, 1, 3, 4, 2}).contiguous();
  t.depth = f.at(prefix + "dmaps").select(2, 0);
  t.confidence = f.at(prefix + "cmaps").select(2, 0);
  t.valid = torch::ones_like(t.depth, torch::kBool);
  t.extrinsics = f.at(prefix + "extrinsics");
  t.pose_encoding = geometry::extrinsics_intrinsics_to_pose_encoding(
      t.extrinsics, f.at(prefix + "intrinsics"), t.depth.size(2), t.depth.size(3));
  return t;
}

TEST(Vidfm3dParity, ProbeLoadsTheAuthorsKeysAndMatchesTheirForward) {
  auto model = authors_model();
  const auto io = fixture("probe_io.safetensors");
  const auto hw = io.at("image_hw");
  torch::NoGradGuard no_grad;
  const auto features = io.at("video_features");
  const auto trunk = model->aggregator(features);
  ASSERT_EQ(trunk.intermediates.size(), 4u);
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(close(trunk.intermediates[i], io.at("tokens." + std::to_string(i)))) << i;
  const auto p = model->forward(features, hw[0].item<int64_t>(), hw[1].item<int64_t>());
  ASSERT_EQ(p.pose_encodings.size(), 4u);
  for (int k = 0; k < 4; ++k)
    EXPECT_TRUE(close(p.pose_encodings[k], io.at("pose_enc." + std::to_string(k)))) << k;
  EXPECT_TRUE(close(p.depth, io.at("depth").squeeze(-1)));
  EXPECT_TRUE(close(p.depth_conf, io.at("depth_conf")));
  EXPECT_TRUE(close(p.world_points, io.at("world_points")));
  EXPECT_TRUE(close(p.world_points_conf, io.at("world_points_conf")));
}

TEST(Vidfm3dParity, LossTermsAndEveryGradientMatchTheirTrainingStep) {
  auto model = authors_model();
  const auto io = fixture("probe_io.safetensors");
  const auto f = fixture("loss.safetensors");
  const auto hw = io.at("image_hw");
  auto targets = targets_from(f, "batch.");
  EXPECT_TRUE(close(targets.pose_encoding, f.at("gt_pose_encoding")));
  const auto p =
      model->forward(io.at("video_features"), hw[0].item<int64_t>(), hw[1].item<int64_t>());
  const auto loss = probe_loss(p, targets, small_config().loss);
  const std::map<std::string, std::string> theirs_to_ours = {
      {"loss.total", "loss"},         {"loss.loss_point", "point"}, {"loss.loss_depth", "depth"},
      {"loss.loss_camera", "camera"}, {"loss.loss_T", "camera_t"},  {"loss.loss_R", "camera_r"},
      {"loss.loss_fl", "camera_fov"}};
  for (const auto& [theirs, ours] : theirs_to_ours)
    EXPECT_TRUE(close(loss.terms.at(ours), f.at(theirs))) << theirs;

  loss.total.backward();
  const auto params = model->named_parameters();
  int compared = 0;
  for (const auto& [key, expected] : f) {
    if (!key.starts_with("grad.")) continue;
    const auto name = authors_probe_module_name(key.substr(5));
    ASSERT_TRUE(params.contains(name)) << key;
    EXPECT_TRUE(close(params[name].grad(), expected, 1e-5, 1e-7)) << key;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(params.size()));
}

TEST(Vidfm3dParity, MetricsAreTheAuthorsValidationNumbers) {
  const auto f = fixture("metrics.safetensors");
  const auto t = targets_from(f, "gt.");
  const auto pred_points = f.at("pred.pmaps").permute({0, 1, 3, 4, 2});
  const int64_t B = t.depth.size(0);
  std::vector<metrics::Vidfm3dPairErrors> pairs;
  double depth_sum = 0;
  for (int64_t b = 0; b < B; ++b) {
    const auto predicted = metrics::vidfm3d_decode_extrinsics(f.at("pred.pose_enc")[b]);
    pairs.push_back(metrics::vidfm3d_pair_errors(predicted, t.extrinsics[b]));
    EXPECT_TRUE(torch::equal(metrics::vidfm3d_confidence_mask(t.confidence[b]),
                             f.at("points.mask")[b].select(1, 0).to(torch::kBool)))
        << b;
    EXPECT_NEAR(metrics::vidfm3d_point_error(pred_points[b], t.world_points[b], t.confidence[b]),
                f.at("points.err_per_sample")[b].item<double>(), 1e-5)
        << b;
    depth_sum += metrics::vidfm3d_depth_error(f.at("pred.dmaps")[b].select(1, 0), t.depth[b],
                                              t.confidence[b], t.valid[b]);
  }
  EXPECT_NEAR(depth_sum / static_cast<double>(B), f.at("depth.loss_depth").item<double>(), 1e-6);
  const auto pooled = metrics::concatenate(pairs);
  // Their pairs are concatenated over the batch in the same order. The angles come from float32
  // acos(1 - 2 loss) near 1, where d acos / dx = 1 / sin(angle) (~115 at 0.5 degrees) turns a few
  // float32 ulps of the quaternion products (whose rounding differs between BLAS builds and CPUs)
  // into ~2e-3 degrees; the thresholded metrics below are compared at 1e-6.
  EXPECT_TRUE(close(pooled.rotation_deg, f.at("camera.rel_rangle_deg"), 1e-5, 5e-3));
  EXPECT_TRUE(close(pooled.translation_deg, f.at("camera.rel_tangle_deg"), 1e-5, 5e-3));
  for (const auto& [key, value] : metrics::vidfm3d_camera_metrics(pooled))
    EXPECT_NEAR(value, f.at("camera." + key).item<double>(), 1e-6) << key;
}

TEST(Vidfm3dParity, FirstViewNormalisationIsTheirs) {
  const auto f = fixture("normalization.safetensors");
  const auto depth = f.at("in.depths").select(-1, 0).unsqueeze(0);
  const auto scene = geometry::normalize_scene(
      f.at("in.extrinsics").unsqueeze(0), depth, f.at("in.points").unsqueeze(0),
      torch::ones_like(depth, torch::kBool), geometry::ScaleFrom::kFirstView);
  EXPECT_TRUE(close(scene.extrinsics[0], f.at("out.extrinsics")));
  EXPECT_TRUE(close(scene.world_points[0], f.at("out.points")));
  EXPECT_TRUE(close(scene.depth[0], f.at("out.depths").select(-1, 0)));
}

TEST(Vidfm3dParity, LearningRatesAndAdamWStepsAreTheirs) {
  const auto cases = json_fixture("schedule.json").at("cases");
  ASSERT_GE(cases.size(), 3u);
  for (const auto& c : cases) {
    TrainConfig t;  // vidfm3d: AdamW 1e-4, 10 warm-up epochs, cosine to 1e-6
    t.epochs = c.at("epochs");
    const auto steps_per_epoch = c.at("steps_per_epoch").get<std::int64_t>();
    const auto length = train_length(t, static_cast<std::size_t>(steps_per_epoch * t.batch_size));
    ASSERT_EQ(length.total_steps, c.at("total_steps").get<std::int64_t>());
    const auto lrs = learning_rates(t, length);
    const auto expected = c.at("lrs").get<std::vector<double>>();
    ASSERT_EQ(lrs.size(), expected.size());
    for (std::size_t k = 0; k < lrs.size(); ++k) EXPECT_DOUBLE_EQ(lrs[k], expected[k]) << k;
    if (!c.contains("adam")) continue;
    // One parameter driven by their gradients through our optimiser at these learning rates.
    const auto& adam = c.at("adam");
    auto parameter = torch::tensor(adam.at("initial").get<std::vector<float>>()).requires_grad_();
    torch::optim::AdamW optimizer(
        {parameter},
        torch::optim::AdamWOptions(t.lr).betas({t.beta1, t.beta2}).weight_decay(t.weight_decay));
    const auto grads = adam.at("grads").get<std::vector<std::vector<float>>>();
    const auto values = adam.at("values").get<std::vector<std::vector<float>>>();
    for (std::size_t k = 0; k < grads.size(); ++k) {
      for (auto& group : optimizer.param_groups())
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lrs[k]);
      parameter.mutable_grad() = torch::tensor(grads[k]);
      optimizer.step();
      EXPECT_TRUE(close(parameter.detach(), torch::tensor(values[k]), 1e-6, 1e-7)) << "step " << k;
    }
  }
}

// Their VideoProbeDataset item (seed 7, WAN features) rebuilt from the same scene: the views,
// the first-view normalisation, the GT confidence and the latent each view reads.
TEST(Vidfm3dParity, DatasetItemsAreTheirsThroughOurCacheLayout) {
  const auto f = fixture("dataset.safetensors");
  // Their validation dataset was given seed=7: the views of default_rng(7 + index).
  auto views = probe_preset("vidfm3d").views;
  views.val_seed = 7;
  const ViewPlan plan(views, /*train_seed=*/42);
  for (int item = 0; item < 2; ++item) {
    const auto scene = "scene" + std::to_string(item) + ".";
    const auto out = "item" + std::to_string(item) + ".";
    features::FeatureShard shard;
    shard.clip_id = "scene" + std::to_string(item);
    shard.features = f.at(scene + "feat").permute({0, 3, 1, 2}).contiguous();
    const int64_t frames = f.at(scene + "depthmaps").size(0);
    shard.feature_index = torch::empty({frames}, torch::kInt64);
    for (int64_t t = 0; t < frames; ++t)
      shard.feature_index[t] = t == 0 ? 0 : (t - 1) / 4 + 1;  // WAN's causal latents
    shard.depth = f.at(scene + "depthmaps").select(-1, 0);
    shard.valid = torch::ones_like(shard.depth, torch::kBool);
    shard.confidence = f.at(scene + "confmaps").select(-1, 0);
    shard.extrinsics = f.at(scene + "extrinsic");
    shard.intrinsics = f.at(scene + "intrinsic");
    shard.images = f.at(scene + "images");
    features::validate_shard(shard, shard.clip_id);

    const auto frames_seen = plan.evaluation(shard, static_cast<std::size_t>(item));
    EXPECT_TRUE(torch::equal(torch::tensor(frames_seen), f.at(out + "frames")));

    const auto batch = make_batch({with_views(shard, frames_seen)}, plan.scale_from());
    EXPECT_TRUE(close(batch.features[0], f.at(out + "vfm_feat").permute({0, 3, 1, 2}), 0, 0));
    EXPECT_TRUE(close(batch.targets.world_points[0], f.at(out + "pmaps").permute({0, 2, 3, 1}),
                      1e-5, 1e-5));
    EXPECT_TRUE(close(batch.targets.depth[0], f.at(out + "dmaps").select(1, 0)));
    EXPECT_TRUE(close(batch.targets.confidence[0], f.at(out + "cmaps").select(1, 0), 0, 0));
    EXPECT_TRUE(close(batch.targets.extrinsics[0], f.at(out + "extrinsics"), 1e-5, 1e-6));
    EXPECT_TRUE(close(batch.intrinsics[0], f.at(out + "intrinsics"), 0, 0));
  }
}

}  // namespace
}  // namespace vidprobe::probe
