// The CogVideoX noise schedule against diffusers' CogVideoXDDIMScheduler (fixture written by
// tools/make_cogvideox_schedule_fixtures.py), and its DPM sampler step against
// CogVideoXDPMScheduler (tools/make_cogvideox_dpm_fixtures.py).
#include "vidprobe/backbones/cogvideox/schedule.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones::cogvideox {
namespace {

using test_support::error_message;

const nlohmann::json& schedule_fixture() {
  static const nlohmann::json json = nlohmann::json::parse(
      read_file(std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "cogvideox" / "schedule.json"));
  return json;
}

torch::Tensor nested_tensor(const nlohmann::json& values, c10::IntArrayRef shape) {
  std::vector<double> flat;
  const std::function<void(const nlohmann::json&)> collect = [&](const nlohmann::json& v) {
    if (v.is_array())
      for (const auto& item : v) collect(item);
    else
      flat.push_back(v.get<double>());
  };
  collect(values);
  return torch::tensor(flat, torch::kFloat64).view(shape);
}

TEST(CogVideoXSchedule, MatchesDiffusersForBothSnrShifts) {
  const auto& fixture = schedule_fixture();
  const auto x0 = nested_tensor(fixture["x0"], {2, 3, 4}).to(torch::kFloat32);
  const auto noise = nested_tensor(fixture["noise"], {2, 3, 4}).to(torch::kFloat32);
  const auto timesteps = torch::tensor({999, 500}, torch::kLong);
  for (const std::string name : {"snr_shift_3", "snr_shift_1"}) {
    const auto& expected = fixture[name];
    const auto config = schedule_config_from_json(expected["config"], name);
    const auto table = alphas_cumprod(config);
    const auto reference = nested_tensor(expected["alphas_cumprod"], {1000});
    EXPECT_LT((table - reference).abs().max().item<double>(), 1e-12) << name;
    EXPECT_EQ(table[-1].item<double>(), 0.0) << name << ": zero terminal SNR";
    EXPECT_EQ(sampler_timesteps(config, 50), expected["timesteps_50"].get<std::vector<int64_t>>())
        << name;
    const auto noisy = add_noise(x0, noise, timesteps, config);
    EXPECT_LT((noisy.to(torch::kFloat64) - nested_tensor(expected["noisy"], {2, 3, 4}))
                  .abs()
                  .max()
                  .item<double>(),
              1e-6)
        << name;
  }
  // The two shifts give different schedules (the test would not notice a dropped shift otherwise).
  EXPECT_NE(fixture["snr_shift_3"]["alphas_cumprod"][500],
            fixture["snr_shift_1"]["alphas_cumprod"][500]);
}

TEST(CogVideoXSchedule, RefusesOtherSchedulesAndTimestepsOutOfRange) {
  auto json = schedule_fixture()["snr_shift_3"]["config"];
  json["beta_schedule"] = "linear";
  EXPECT_NE(error_message([&] {
              schedule_config_from_json(json, "scheduler_config.json");
            }).find("beta_schedule 'linear'"),
            std::string::npos);
  const auto config = schedule_config_from_json(schedule_fixture()["snr_shift_3"]["config"], "s");
  const auto x = torch::zeros({1, 2});
  EXPECT_NE(error_message([&] {
              add_noise(x, x, torch::tensor({1000}), config);
            }).find("timestep 1000 is outside 0..999"),
            std::string::npos);
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox

namespace vidprobe::backbones::cogvideox {
namespace {

// CogVideoXDPMScheduler.step, Aether's reconstruction sampler, over the 4-step loop of its
// pipeline (first-order first step, then second-order with the previous x0 and timestep; the last
// step lands on alpha_bar 1), against diffusers (tools/make_cogvideox_dpm_fixtures.py).
TEST(CogVideoXDpm, StepsMatchDiffusersOverAethersFourStepLoop) {
  const auto dir = std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "cogvideox";
  const auto fixture = nlohmann::json::parse(read_file(dir / "dpm.json"));
  const auto tensors = load_safetensors(dir / "dpm.safetensors");
  const auto config = schedule_config_from_json(fixture.at("config"), "dpm.json");
  EXPECT_TRUE(config.v_prediction);
  const int steps = fixture.at("steps");
  const auto timesteps = sampler_timesteps(config, steps);
  EXPECT_EQ(timesteps, fixture.at("timesteps").get<std::vector<int64_t>>());
  torch::Tensor old;
  for (std::size_t i = 0; i < fixture.at("cases").size(); ++i) {
    const auto& c = fixture.at("cases")[i];
    const auto key = [&](const std::string& name) {
      return tensors.at("step" + std::to_string(i) + "/" + name);
    };
    const auto step =
        dpm_step(config, steps, key("model_output"), old, c.at("timestep"), c.at("timestep_back"),
                 key("sample"), key("noise"), key("second_noise"));
    const auto close = [](const torch::Tensor& a, const torch::Tensor& e) {
      return (a - e).abs().max().item<double>() / e.abs().max().item<double>();
    };
    EXPECT_LT(close(step.pred_original_sample, key("pred_original_sample")), 1e-5) << i;
    EXPECT_LT(close(step.prev_sample, key("prev_sample")), 1e-5) << i;
    old = step.pred_original_sample;
  }
  auto epsilon = fixture.at("config");
  epsilon["prediction_type"] = "sample";
  EXPECT_NE(error_message([&] {
              schedule_config_from_json(epsilon, "s.json");
            }).find("prediction_type 'sample'"),
            std::string::npos);
}

}  // namespace
}  // namespace vidprobe::backbones::cogvideox
