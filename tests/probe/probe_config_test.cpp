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

TEST(ProbeConfig, DefaultsDescribeThePaperProbe) {
  const ProbeConfig config;
  EXPECT_EQ(config.model.num_blocks, 4);
  EXPECT_TRUE(config.model.global_attention);
  EXPECT_NO_THROW(validate(config));
}

TEST(ProbeConfig, JsonRoundTripKeepsEveryValue) {
  ProbeConfig config;
  config.model.width = 96;
  config.model.global_attention = false;
  config.heads.dense.out_channels = {4, 8, 16, 32};
  config.loss.point.gradient = "grad";
  config.loss.camera.type = "huber";
  config.train.seed = 42;
  config.train.lr = 3e-4;
  const auto back = probe_config_from_json(to_json(config));
  EXPECT_EQ(to_json(back), to_json(config));
  EXPECT_EQ(back.model.width, 96);
  EXPECT_FALSE(back.model.global_attention);
  EXPECT_EQ(back.heads.dense.out_channels, (std::vector<int>{4, 8, 16, 32}));
}

TEST(ProbeConfig, PartialJsonOverridesOnlyTheGivenKeys) {
  const auto config = probe_config_from_json({{"train", {{"steps", 50}}}});
  EXPECT_EQ(config.train.steps, 50);
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
