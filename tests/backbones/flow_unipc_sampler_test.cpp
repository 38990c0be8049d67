// The UniPC flow sampler against diffusers' own UniPCMultistepScheduler with WAN2.1's scheduler
// config: schedules and chained step() outputs (tests/fixtures/wan/sampler.{json,safetensors},
// tools/make_wan_sampler_fixtures.py).
#include "vidprobe/backbones/flow_unipc_sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tensor_test_support.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones {
namespace {
using ::testing::HasSubstr;

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "wan" / name;
}

const nlohmann::json& sampler_fixture() {
  static const nlohmann::json json = [] {
    std::ifstream in(fixture("sampler.json"));
    return nlohmann::json::parse(in);
  }();
  return json;
}

const TensorMap& sampler_tensors() {
  static const TensorMap tensors = load_safetensors(fixture("sampler.safetensors"));
  return tensors;
}

using test_support::relative_error;

FlowUniPcOptions options(double shift, int order = 2) {
  FlowUniPcOptions out;
  out.flow_shift = shift;
  out.solver_order = order;
  return out;
}

TEST(FlowUniPcSampler, SchedulesAreDiffusersOwn) {
  const auto& cases = sampler_fixture().at("schedules");
  ASSERT_GE(cases.size(), 5u);
  for (const auto& c : cases) {
    const FlowUniPcSampler sampler(options(c.at("shift")), c.at("steps"));
    EXPECT_EQ(sampler.timesteps(), c.at("timesteps").get<std::vector<std::int64_t>>())
        << c.at("steps") << " steps, shift " << c.at("shift");
    EXPECT_EQ(sampler.sigmas(), c.at("sigmas").get<std::vector<double>>())
        << c.at("steps") << " steps, shift " << c.at("shift");
  }
}

// Every step of a chained run on random model outputs, for orders 1, 2 (WAN's) and 3, and at
// order 2 with a sigma_min final sigma, with bh1 and with some correctors disabled: the
// corrector, the predictor, the warm-up and the lower-order final steps all take part.
TEST(FlowUniPcSampler, StepsMatchDiffusers) {
  const auto& cases = sampler_fixture().at("steps");
  ASSERT_EQ(cases.size(), 7u);
  for (const auto& c : cases) {
    const std::string prefix = "steps/" + c.at("name").get<std::string>() + "/";
    auto config = options(c.at("shift"), c.at("solver_order"));
    if (c.value("final_sigmas_type", "zero") == "sigma_min")
      config.final_sigma = FinalSigma::kSigmaMin;
    if (c.value("solver_type", "bh2") == "bh1") config.variant = UniPcVariant::kBh1;
    config.disable_corrector = c.value("disable_corrector", std::vector<int>{});
    FlowUniPcSampler sampler(config, c.at("steps"));
    auto sample = sampler_tensors().at(prefix + "sample0");
    for (int i = 0; i < sampler.steps(); ++i) {
      EXPECT_EQ(sampler.step_index(), i);
      sample =
          sampler.step(sampler_tensors().at(prefix + "model_output" + std::to_string(i)), sample);
      const auto& expected = sampler_tensors().at(prefix + "prev_sample" + std::to_string(i));
      EXPECT_LT(relative_error(sample, expected), 1e-5) << prefix << " step " << i;
      sample = expected;  // each step from diffusers' own state, so errors do not compound
    }
    EXPECT_TRUE(sampler.done());
  }
}

TEST(FlowUniPcSampler, ZeroFinalSigmaEndsOnTheX0Prediction) {
  FlowUniPcSampler sampler(options(3.0), 1);
  const auto sample = torch::randn({2, 3}), velocity = torch::randn({2, 3});
  const auto x0 = sample - sampler.sigmas()[0] * velocity;
  EXPECT_TRUE(torch::allclose(sampler.step(velocity, sample), x0, 1e-6, 1e-6));
  EXPECT_THROW(sampler.step(velocity, sample), Error);
}

TEST(FlowUniPcSampler, RejectsBadOptions) {
  EXPECT_THAT([] { FlowUniPcSampler(options(0.0), 4); },
              ::testing::ThrowsMessage<Error>(HasSubstr("flow_shift")));
  EXPECT_THAT([] { FlowUniPcSampler(options(3.0, 4), 4); },
              ::testing::ThrowsMessage<Error>(HasSubstr("solver_order")));
  EXPECT_THAT([] { FlowUniPcSampler(options(3.0), 0); },
              ::testing::ThrowsMessage<Error>(HasSubstr("steps")));
  auto no_lower = options(3.0);
  no_lower.lower_order_final = false;
  EXPECT_THAT([&] { FlowUniPcSampler(no_lower, 4); },
              ::testing::ThrowsMessage<Error>(HasSubstr("lower_order_final")));
  auto bh1 = options(3.0);
  bh1.variant = UniPcVariant::kBh1;
  EXPECT_THAT([&] { FlowUniPcSampler(bh1, 4); }, ::testing::ThrowsMessage<Error>(HasSubstr("bh1")));
  bh1.final_sigma = FinalSigma::kSigmaMin;
  EXPECT_NO_THROW(FlowUniPcSampler(bh1, 4));
  FlowUniPcSampler sampler(options(3.0), 2);
  EXPECT_THAT([&] { sampler.step(torch::zeros({2}), torch::zeros({3})); },
              ::testing::ThrowsMessage<Error>(HasSubstr("shape")));
}

// The guidance arithmetic and the call pattern of the loop, on a model whose velocity is known.
TEST(FlowUniPcSampler, LoopGuidesOnlyAboveOne) {
  int conditional = 0, unconditional = 0;
  const VelocityModel model = [&](const torch::Tensor& x, const torch::Tensor& t, Guidance which) {
    EXPECT_EQ(t.scalar_type(), torch::kInt64);
    EXPECT_EQ(t.numel(), x.size(0));
    (which == Guidance::kConditional ? conditional : unconditional)++;
    return torch::full_like(x, which == Guidance::kConditional ? 1.0 : 3.0);
  };
  SamplingOptions guided;
  guided.steps = 1;
  guided.guidance_scale = 5.0;
  const auto start = torch::zeros({1, 4});
  // One step with a zero final sigma gives x0 = x - sigma_0 v, v = 3 + 5 (1 - 3) = -7.
  const double sigma0 = FlowUniPcSampler(guided.sampler, 1).sigmas()[0];
  EXPECT_TRUE(torch::allclose(sample_latents(model, start, guided),
                              torch::full({1, 4}, 7.0 * sigma0), 1e-6, 1e-6));
  EXPECT_EQ(conditional, 1);
  EXPECT_EQ(unconditional, 1);

  SamplingOptions plain = guided;
  plain.steps = 3;
  plain.guidance_scale = 1.0;
  int seen = 0;
  plain.on_step = [&](int step, const torch::Tensor&) { EXPECT_EQ(step, seen++); };
  sample_latents(model, start, plain);
  EXPECT_EQ(conditional, 4);
  EXPECT_EQ(unconditional, 1);
  EXPECT_EQ(seen, 3);
}

}  // namespace
}  // namespace vidprobe::backbones
