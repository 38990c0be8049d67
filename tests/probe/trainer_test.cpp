#include "vidprobe/probe/trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "probe/probe_test_util.h"
#include "probe/synthetic_shards.h"
#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/probe/checkpoint.h"
#include "vidprobe/probe/evaluator.h"
#include "vidprobe/probe/fused_adamw.h"
#include "vidprobe/probe/probe_model.h"

namespace vidprobe::probe {
namespace {
namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

fs::path fresh_dir(const std::string& name) {
  auto dir =
      fs::temp_directory_path() / ("vidprobe_probe_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

// Restores the intra-op thread count on scope exit.
struct SingleThread {
  int previous = torch::get_num_threads();
  SingleThread() { torch::set_num_threads(1); }
  ~SingleThread() { torch::set_num_threads(previous); }
};

// A tiny probe on `clips` synthetic clips, `steps` steps with a checkpoint every
// `checkpoint_every`, stopped after step `stop_after` as if killed there; the options resume it.
struct StoppedRun {
  ClipSource train;
  TrainOptions options;
};
StoppedRun train_tiny_until(const fs::path& run_dir, int clips, int steps, int checkpoint_every,
                            int stop_after) {
  auto spec = testing::SyntheticSpec{};
  spec.clips = clips;
  spec.size = 16;
  StoppedRun run{ClipSource::from_shards(testing::synthetic_shards(spec)), {}};
  run.options.config = testing::tiny_config();
  run.options.config.train.steps = steps;
  run.options.config.train.checkpoint_every = checkpoint_every;
  run.options.run_dir = run_dir;
  run.options.progress = false;
  run.options.stop_after_step = stop_after;
  train_probe(run.train, ClipSource::from_shards({}), run.options);
  return run;
}

TEST(LearningRate, FractionScheduleWarmsUpLinearlyThenDecaysByCosine) {
  auto t = probe_preset("vidprobe").train;
  t.steps = 100;
  t.lr = 1.0;
  t.warmup_fraction = 0.1;
  t.min_lr_fraction = 0.0;
  const auto lrs = learning_rates(t, train_length(t, 16));
  ASSERT_EQ(lrs.size(), 100u);
  EXPECT_DOUBLE_EQ(lrs[0], 0.1);
  EXPECT_DOUBLE_EQ(lrs[9], 1.0);
  EXPECT_NEAR(lrs[10], 1.0, 1e-12);
  EXPECT_NEAR(lrs[55], 0.5, 1e-12);  // half-way through the cosine
  EXPECT_NEAR(lrs[99], 0.5 * (1 + std::cos(M_PI * 89 / 90)), 1e-12);
}

TEST(TrainLength, EpochsDropTheLastPartialBatchAndNeedOneFullBatch) {
  TrainConfig t;  // vidfm3d: 75 epochs of batch 10
  const auto length = train_length(t, 57);
  EXPECT_TRUE(length.by_epochs);
  EXPECT_EQ(length.steps_per_epoch, 5);
  EXPECT_EQ(length.total_steps, 375);
  EXPECT_THAT(test_support::error_message([&] { train_length(t, 9); }), HasSubstr("batch"));
}

TEST(BatchItems, EveryEpochIsAPermutationAndStepsAreReproducible) {
  std::vector<int> seen(10, 0);
  for (int step = 0; step < 5; ++step)  // 5 steps x 2 = one epoch of 10 clips
    for (auto item : batch_items(10, 2, 7, step, false)) {
      ++seen[item.clip];
      EXPECT_EQ(item.epoch, 0u);
    }
  for (int count : seen) EXPECT_EQ(count, 1);
  auto clips = [](const std::vector<BatchItem>& items) {
    std::vector<std::size_t> out;
    for (const auto& item : items) out.push_back(item.clip);
    return out;
  };
  EXPECT_EQ(clips(batch_items(10, 3, 7, 12, false)), clips(batch_items(10, 3, 7, 12, false)));
  EXPECT_NE(clips(batch_items(10, 10, 7, 0, false)), clips(batch_items(10, 10, 8, 0, false)));
  // By epochs, 10 clips in batches of 3: 3 steps an epoch, one clip left out each epoch.
  std::vector<int> epoch_one(10, 0);
  for (int step = 3; step < 6; ++step)
    for (auto item : batch_items(10, 3, 7, step, true)) {
      ++epoch_one[item.clip];
      EXPECT_EQ(item.epoch, 1u);
    }
  EXPECT_EQ(std::count(epoch_one.begin(), epoch_one.end(), 1), 9);
  EXPECT_EQ(std::count(epoch_one.begin(), epoch_one.end(), 0), 1);
}

// The fused step against LibTorch's per-parameter AdamW: same parameters after a few steps with
// weight decay and changing learning rates, on the CPU (ATen's fused CPU kernel) and, where there
// is one, on the GPU.
TEST(FusedAdamW, MatchesLibTorchsAdamW) {
  std::vector<torch::Device> devices{torch::kCPU};
  if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA);
  for (const auto& device : devices) {
    torch::manual_seed(3);
    const auto initial = torch::randn({5, 7});
    auto a = initial.clone().to(device).requires_grad_();
    auto b = initial.clone().to(device).requires_grad_();
    const auto options = torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).weight_decay(0.05);
    FusedAdamW fused({a}, options);
    torch::optim::AdamW reference({b}, options);
    for (int step = 0; step < 5; ++step) {
      const auto grad = torch::randn({5, 7}).to(device);
      for (auto* optimizer : std::vector<torch::optim::AdamW*>{&fused, &reference})
        for (auto& group : optimizer->param_groups())
          static_cast<torch::optim::AdamWOptions&>(group.options())
              .lr(step == 0 ? 0.0 : 1e-2 / step);
      a.mutable_grad() = grad.clone();
      b.mutable_grad() = grad.clone();
      fused.step();
      reference.step();
    }
    EXPECT_FALSE(torch::equal(a, initial.to(device)));  // the steps moved the parameters
    EXPECT_TRUE(torch::allclose(a.cpu(), b.cpu(), 1e-6, 1e-7)) << device << (a - b).abs().max();
  }
}

TEST(Checkpoint, WeightsRoundTripGivesIdenticalOutputs) {
  const auto dir = fresh_dir("weights");
  fs::create_directories(dir);
  torch::manual_seed(1);
  ProbeModel a(testing::tiny_config(), 6);
  torch::manual_seed(2);
  ProbeModel b(testing::tiny_config(), 6);
  save_weights(dir / "w.safetensors", *a);
  load_weights(dir / "w.safetensors", *b);
  const auto x = torch::randn({1, 3, 6, 2, 3});
  torch::NoGradGuard no_grad;
  const auto pa = a->forward(x, 10, 12), pb = b->forward(x, 10, 12);
  EXPECT_TRUE(torch::equal(pa.world_points, pb.world_points));
  EXPECT_TRUE(torch::equal(pa.depth, pb.depth));
  EXPECT_TRUE(torch::equal(pa.pose_encoding(), pb.pose_encoding()));

  // A different architecture is refused with the offending tensor named.
  auto wide = testing::tiny_config();
  wide.model.width = 48;
  ProbeModel c(wide, 6);
  try {
    load_weights(dir / "w.safetensors", *c);
    FAIL() << "loading mismatched weights must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("aggregator."), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Trainer, ResumeReachesTheSameWeightsAsAnUninterruptedRun) {
  SingleThread one_thread;
  auto spec = testing::SyntheticSpec{};
  spec.clips = 4;
  spec.size = 16;
  const auto train = ClipSource::from_shards(testing::synthetic_shards(spec));
  auto config = testing::tiny_config();
  config.train.steps = 12;
  config.train.checkpoint_every = 5;

  TrainOptions straight;
  straight.config = config;
  straight.run_dir = fresh_dir("straight");
  straight.progress = false;
  train_probe(train, ClipSource::from_shards({}), straight);

  TrainOptions interrupted = straight;
  interrupted.run_dir = fresh_dir("interrupted");
  interrupted.stop_after_step = 7;  // checkpoints at 5 and 7, as if killed after step 7
  const auto first = train_probe(train, ClipSource::from_shards({}), interrupted);
  EXPECT_EQ(first.last_step, 7);
  EXPECT_FALSE(fs::exists(interrupted.run_dir / "model.safetensors"));
  // Without --resume an existing run directory is refused.
  interrupted.stop_after_step.reset();
  EXPECT_THROW(train_probe(train, ClipSource::from_shards({}), interrupted), Error);
  interrupted.resume = true;
  // The resumed part with gradient checkpointing (the tiny config has it off): allowed, and the
  // weights come out the same.
  ASSERT_FALSE(interrupted.config.model.gradient_checkpointing);
  interrupted.config.model.gradient_checkpointing = true;
  const auto second = train_probe(train, ClipSource::from_shards({}), interrupted);
  EXPECT_EQ(second.first_step, 7);
  EXPECT_EQ(second.last_step, 12);

  const auto a = load_safetensors(straight.run_dir / "model.safetensors");
  const auto b = load_safetensors(interrupted.run_dir / "model.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(torch::equal(tensor, b.at(name))) << name;

  // The log of the resumed run lists every logged step once.
  const auto log = read_file(interrupted.run_dir / "train_log.csv");
  int rows = 0;
  for (char ch : log) rows += ch == '\n';
  EXPECT_EQ(rows, 1 + 4);  // header + steps 5, 7 (the interrupted run's last row), 10, 12
  fs::remove_all(straight.run_dir);
  fs::remove_all(interrupted.run_dir);
}

TEST(Trainer, ResumeFallsBackToThePreviousGoodCheckpointAndFailsOnlyWhenNoneLoads) {
  SingleThread one_thread;
  // Checkpoints at 5 and 7.
  auto run = train_tiny_until(fresh_dir("resume_fallback"), 4, 12, 5, 7);
  const auto& train = run.train;
  auto& options = run.options;
  const auto newest = checkpoint_dir(options.run_dir, 7),
             previous = checkpoint_dir(options.run_dir, 5);
  ASSERT_TRUE(fs::exists(newest / "model.safetensors"));
  ASSERT_TRUE(fs::exists(previous / "model.safetensors"));

  // The newest checkpoint's weights cut short, as a full disk or a dying machine leaves them.
  const auto weights = read_file(newest / "model.safetensors");
  write_file_atomically(newest / "model.safetensors", weights.substr(0, weights.size() / 2));
  options.stop_after_step = 9;
  options.resume = true;
  ::testing::internal::CaptureStderr();
  const auto resumed = train_probe(train, ClipSource::from_shards({}), options);
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(resumed.first_step, 5);
  EXPECT_EQ(resumed.last_step, 9);
  EXPECT_THAT(said, HasSubstr(newest.string() + " does not load"));
  EXPECT_THAT(said, HasSubstr("continuing from " + previous.string() + " (step 5)"));

  // Every checkpoint damaged (keep_checkpoints = 2 left steps 7 and 9): a clear error naming
  // each one, not a silent start from scratch.
  const auto last = checkpoint_dir(options.run_dir, 9);
  ASSERT_FALSE(fs::exists(previous));
  write_file_atomically(last / "optimizer.pt", "not an archive");
  options.stop_after_step.reset();
  ::testing::internal::CaptureStderr();
  const auto message = test_support::error_message(
      [&] { train_probe(train, ClipSource::from_shards({}), options); });
  ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(message, HasSubstr("no checkpoint of " + options.run_dir.string() + " loads"));
  EXPECT_THAT(message, HasSubstr(newest.string() + ": "));
  EXPECT_THAT(message, HasSubstr(last.string() + ": "));
  fs::remove_all(options.run_dir);
}

TEST(Trainer, ResumeWithADifferentConfigurationIsRefused) {
  SingleThread one_thread;
  auto spec = testing::SyntheticSpec{};
  spec.clips = 2;
  spec.size = 16;
  const auto train = ClipSource::from_shards(testing::synthetic_shards(spec));
  TrainOptions options;
  options.config = testing::tiny_config();
  options.config.train.steps = 2;
  options.run_dir = fresh_dir("config_change");
  options.progress = false;
  train_probe(train, ClipSource::from_shards({}), options);
  options.resume = true;
  options.config.model.width = 64;
  try {
    train_probe(train, ClipSource::from_shards({}), options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
  fs::remove_all(options.run_dir);
}

// The test that says the probe works: trained on 24 synthetic clips whose features encode the
// GT, it must beat the constant mean predictor on 4 held-out clips by a clear margin.
TEST(Trainer, TinyProbeBeatsTheMeanPredictorOnHeldOutClips) {
  auto spec = testing::SyntheticSpec{};
  spec.clips = 28;
  auto shards = testing::synthetic_shards(spec);
  std::vector<features::FeatureShard> test_shards(shards.end() - 4, shards.end());
  shards.resize(24);
  const auto train = ClipSource::from_shards(shards);
  const auto test = ClipSource::from_shards(test_shards);

  TrainOptions options;
  options.config = testing::tiny_config();
  options.config.train.steps = 200;
  options.config.train.batch_size = 4;
  options.config.train.lr = 2e-3;
  options.config.train.checkpoint_every = 1000;
  options.run_dir = fresh_dir("end_to_end");
  options.progress = false;
  const auto summary = train_probe(train, test, options);
  ASSERT_TRUE(summary.val_loss.has_value());

  EvalOptions eval;
  eval.run_dir = options.run_dir;
  eval.progress = false;
  eval.visualize = 1;
  const auto metrics = evaluate_run(test, eval);
  const auto& base = metrics.at("baseline");
  const double probe_absrel = metrics.at("depth.abs_rel"), base_absrel = base.at("depth.abs_rel");
  const double probe_err = metrics.at("points.err"), base_err = base.at("points.err");
  // Observed on this machine: depth 0.03 vs 0.11, points 0.10 vs 0.17.
  EXPECT_LT(probe_absrel, 0.5 * base_absrel) << metrics.dump(2);
  EXPECT_LT(probe_err, 0.75 * base_err) << metrics.dump(2);
  EXPECT_EQ(metrics.at("num_clips"), 4);
  for (const char* key : {"camera.auc30", "camera.auc5", "camera.rra30", "camera.rta30",
                          "depth.delta1", "points.chamfer"})
    EXPECT_TRUE(metrics.contains(key)) << key;
  const auto eval_dir = options.run_dir / "eval";
  EXPECT_TRUE(fs::exists(eval_dir / "metrics.json"));
  EXPECT_TRUE(fs::exists(eval_dir / "per_clip.csv"));
  EXPECT_TRUE(fs::exists(eval_dir / "clip_24_depth.png"));
  // The panel's layout for the report's column titles and colour-bar numbers: GT and prediction
  // share one depth scale that spans the clip's depths.
  const auto panel = nlohmann::json::parse(read_file(eval_dir / "clip_24_depth.json"));
  EXPECT_GE(panel["frames"].get<int>(), 2);
  ASSERT_GE(panel["bars"].size(), 1u);
  const auto& depth_bar = panel["bars"][0];
  EXPECT_LT(depth_bar["lo"].get<double>(), depth_bar["hi"].get<double>());
  EXPECT_GT(depth_bar["last_column"].get<int>(), depth_bar["first_column"].get<int>());
  EXPECT_TRUE(fs::exists(eval_dir / "clip_24_points.ply"));
  // The 3D view's data: valid pixels' GT and aligned predicted points with their error, and both
  // sets of cameras in the targets' frame, whose first GT camera is the identity.
  const auto geometry = load_safetensors(eval_dir / "clip_24_geometry.safetensors");
  const auto& gt = geometry.at("gt_points");
  const auto& pred = geometry.at("pred_points");
  ASSERT_EQ(gt.dim(), 2);
  EXPECT_GT(gt.size(0), 100);
  EXPECT_EQ(pred.sizes(), gt.sizes());
  EXPECT_EQ(geometry.at("colors").sizes(), gt.sizes());
  EXPECT_TRUE(torch::allclose(geometry.at("error"), (pred - gt).norm(2, -1), 1e-5, 1e-6));
  const auto& cameras = geometry.at("gt_cameras");
  EXPECT_EQ(cameras.sizes(), geometry.at("pred_cameras").sizes());
  EXPECT_TRUE(torch::allclose(cameras[0], torch::eye(3, 4), 1e-4, 1e-5)) << cameras[0];
  EXPECT_EQ(geometry.at("intrinsics").size(0), cameras.size(0));
  EXPECT_EQ(geometry.at("image_size")[0].item<int64_t>(), test_shards.front().depth.size(1));
  fs::remove_all(options.run_dir);
}

// Found by tools/hostile_campaign.py: probe weights stored as I32 were converted and loaded, and a
// state.json with a negative step resumed from it.
TEST(Checkpoint, IntegerWeightsAndNegativeStepsAreRefusedNamingFileAndKey) {
  const auto dir = fresh_dir("hostile_weights");
  fs::create_directories(dir);
  ProbeModel model(testing::tiny_config(), 6);
  auto state = load_safetensors([&] {
    save_weights(dir / "w.safetensors", *model);
    return dir / "w.safetensors";
  }());
  const auto name = state.begin()->first;
  state[name] = state[name].to(torch::kInt32);
  save_safetensors(dir / "int.safetensors", state);
  EXPECT_THAT(test_support::error_message([&] { load_weights(dir / "int.safetensors", *model); }),
              AllOf(HasSubstr("int.safetensors"), HasSubstr("'" + name + "'"),
                    HasSubstr("not a floating type")));

  SingleThread one_thread;
  auto run = train_tiny_until(dir / "run", 2, 4, 2, 2);
  const auto& train = run.train;
  auto& options = run.options;
  write_file_atomically(checkpoint_dir(options.run_dir, 2) / "state.json", R"({"step": -5})");
  options.resume = true;
  options.stop_after_step.reset();
  ::testing::internal::CaptureStderr();
  const auto message = test_support::error_message(
      [&] { train_probe(train, ClipSource::from_shards({}), options); });
  ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(message, AllOf(HasSubstr("state.json"), HasSubstr("'step' is negative")));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vidprobe::probe
