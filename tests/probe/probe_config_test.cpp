#include "vidprobe/probe/probe_config.h"

#include <gtest/gtest.h>

#include "vidprobe/core/error.h"

namespace vidprobe::probe {
namespace {

std::string error_of(const nlohmann::json& json) {
  try {
    probe_config_from_json(json);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ProbeConfig, DefaultsAreTheAuthorsProtocol) {
  const ProbeConfig config;
  EXPECT_EQ(config.preset, "vidfm3d");
  EXPECT_EQ(to_json(config), to_json(probe_preset("vidfm3d")));
  // ProbeModelPA (vidfm3d/models/components/probe_pixalign.py, configs/experiment/*/wan.yaml).
  EXPECT_EQ(config.model.width, 1024);
  EXPECT_EQ(config.model.num_heads, 16);
  EXPECT_TRUE(config.model.gradient_checkpointing);  // configs/model/probe.yaml
  EXPECT_EQ(config.model.num_blocks, 4);
  EXPECT_DOUBLE_EQ(config.model.input_norm_eps, 1e-5);
  EXPECT_EQ(config.model.init, "torch_default");
  EXPECT_EQ(config.heads.dense.features, 256);
  EXPECT_EQ(config.heads.dense.out_channels, (std::vector<int>{256, 512, 1024, 1024}));
  EXPECT_TRUE(config.heads.dense.relu_skip);
  EXPECT_EQ(config.heads.camera.trunk_depth, 4);
  EXPECT_EQ(config.heads.camera.iterations, 4);
  EXPECT_FALSE(config.heads.camera.qk_norm);
  // Losses: GT-confidence weighted, points normalised, Huber camera, weights 1/1/1.
  EXPECT_EQ(config.loss.point.confidence, "ground_truth");
  EXPECT_TRUE(config.loss.point.normalize);
  EXPECT_FALSE(config.loss.depth.normalize);
  EXPECT_EQ(config.loss.depth.gradient, "none");
  EXPECT_EQ(config.loss.camera.type, "huber");
  EXPECT_DOUBLE_EQ(config.loss.camera.weight, 1.0);
  // Views and optimisation.
  EXPECT_EQ(config.views.sampling.count, 4);
  EXPECT_EQ(config.views.sampling.min_gap, 5);
  EXPECT_EQ(config.views.sampling.context, 76);
  EXPECT_EQ(config.views.sampling.snap, 4);
  EXPECT_EQ(config.views.normalization, "first_view");
  EXPECT_EQ(config.train.epochs, 75);
  EXPECT_EQ(config.train.batch_size, 10);
  EXPECT_DOUBLE_EQ(config.train.lr, 1e-4);
  EXPECT_TRUE(config.train.decay_all_parameters);
  EXPECT_DOUBLE_EQ(config.train.grad_clip, 0);
  EXPECT_EQ(config.train.seed, 42u);
  EXPECT_NO_THROW(validate(config));
}

TEST(ProbeConfig, VidprobePresetKeepsTheEarlierProbe) {
  const auto config = probe_preset("vidprobe");
  EXPECT_EQ(config.model.width, 384);
  EXPECT_EQ(config.model.num_heads, 6);
  EXPECT_EQ(config.model.init, "trunc_normal");
  EXPECT_FALSE(config.model.gradient_checkpointing);
  EXPECT_EQ(config.heads.camera.trunk_depth, 2);
  EXPECT_EQ(config.heads.camera.iterations, 1);
  EXPECT_EQ(config.loss.depth.confidence, "predicted");
  EXPECT_DOUBLE_EQ(config.loss.depth.alpha, 0.2);
  EXPECT_EQ(config.loss.point.gradient, "normal");
  EXPECT_EQ(config.views.sampling.count, 0);
  EXPECT_EQ(config.train.steps, 10000);
  EXPECT_EQ(config.train.epochs, 0);
  EXPECT_NO_THROW(validate(config));
  EXPECT_EQ(to_json(probe_config_from_json(to_json(config), config)), to_json(config));
}

TEST(ProbeConfig, PresetsAreNamedAndAFileCannotContradictItsBase) {
  EXPECT_THROW(probe_preset("paper"), Error);
  EXPECT_NO_THROW(probe_config_from_json({{"preset", "vidfm3d"}}));
  EXPECT_NE(error_of({{"preset", "vidprobe"}}).find("preset"), std::string::npos);
}

TEST(ProbeConfig, JsonRoundTripKeepsEveryValue) {
  ProbeConfig config;
  config.model.width = 128;
  config.model.global_attention = false;
  config.heads.dense.out_channels = {4, 8, 16, 32};
  config.loss.point.gradient = "grad";
  config.loss.camera.type = "huber";
  config.train.seed = 42;
  config.train.lr = 3e-4;
  const auto back = probe_config_from_json(to_json(config));
  EXPECT_EQ(to_json(back), to_json(config));
  EXPECT_EQ(back.model.width, 128);
  EXPECT_FALSE(back.model.global_attention);
  EXPECT_EQ(back.heads.dense.out_channels, (std::vector<int>{4, 8, 16, 32}));
}

TEST(ProbeConfig, PartialJsonOverridesOnlyTheGivenKeys) {
  const auto config = probe_config_from_json({{"train", {{"epochs", 3}}}});
  EXPECT_EQ(config.train.epochs, 3);
  const ProbeConfig defaults;
  EXPECT_EQ(config.model.width, defaults.model.width);
}

TEST(ProbeConfig, UnknownKeysAreNamed) {
  EXPECT_NE(error_of({{"model", {{"widht", 3}}}}).find("model.widht"), std::string::npos);
  EXPECT_NE(error_of({{"modle", {}}}).find("'modle'"), std::string::npos);
  EXPECT_NE(error_of({{"heads", {{"dense", {{"feature", 3}}}}}}).find("heads.dense.feature"),
            std::string::npos);
}

TEST(ProbeConfig, BadValuesAreNamed) {
  EXPECT_NE(error_of({{"model", {{"width", "wide"}}}}).find("model.width"), std::string::npos);
  EXPECT_NE(error_of({{"model", {{"width", 100}, {"num_heads", 3}}}}).find("model.num_heads"),
            std::string::npos);
  EXPECT_NE(error_of({{"train", {{"lr", -1.0}}}}).find("train.lr"), std::string::npos);
  EXPECT_NE(error_of({{"loss", {{"camera", {{"type", "l3"}}}}}}).find("loss.camera.type"),
            std::string::npos);
  EXPECT_NE(error_of({{"heads", {{"dense", {{"out_channels", {1, 2}}}}}}})
                .find("heads.dense.out_channels"),
            std::string::npos);
  EXPECT_NE(error_of({{"train", {{"holdout", 1.5}}}}).find("train.holdout"), std::string::npos);
  EXPECT_NE(error_of({{"model", {{"qk_norm", 1}}}}).find("model.qk_norm"), std::string::npos);
  EXPECT_NE(error_of({{"train", {{"steps", 10}}}}).find("train.epochs"), std::string::npos);
  EXPECT_NE(error_of({{"train", {{"seed", -1}}}}).find("train.seed"), std::string::npos);
  EXPECT_NE(error_of({{"train", {{"batch_size", 4294967297ll}}}}).find("train.batch_size"),
            std::string::npos);
  EXPECT_NE(error_of({{"model", {{"width", 4294967360ll}}}}).find("model.width"),
            std::string::npos);
  EXPECT_NE(error_of({{"views", {{"context", 10}}}}).find("views.context"), std::string::npos);
  EXPECT_NE(error_of({{"views", {{"normalization", "view0"}}}}).find("views.normalization"),
            std::string::npos);
  EXPECT_NE(error_of({{"loss", {{"depth", {{"alpha", 0.2}}}}}}).find("loss.depth.alpha"),
            std::string::npos);
  EXPECT_NE(
      error_of({{"heads", {{"dense", {{"layers", {0, 1, 2, 9}}}}}}}).find("heads.dense.layers"),
      std::string::npos);
  for (const int blocks : {-2, 5})  // the preset's 4 blocks
    EXPECT_NE(
        error_of({{"model", {{"checkpoint_blocks", blocks}}}}).find("model.checkpoint_blocks"),
        std::string::npos)
        << blocks;
  for (const int blocks : {-1, 0, 4})
    EXPECT_EQ(error_of({{"model", {{"checkpoint_blocks", blocks}}}}), "");
}

TEST(ProbeConfig, FileErrorsNameTheFile) {
  try {
    load_probe_config("/nonexistent/probe.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/probe.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vidprobe::probe
