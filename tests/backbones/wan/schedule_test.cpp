#include "vidprobe/backbones/wan/schedule.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "backbones/wan/test_fixtures.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {
namespace {

TEST(WanSchedule, ShiftFormula) {
  EXPECT_DOUBLE_EQ(shift_sigma(0.0, 5.0), 0.0);
  EXPECT_DOUBLE_EQ(shift_sigma(1.0, 5.0), 1.0);
  EXPECT_DOUBLE_EQ(shift_sigma(0.5, 5.0), 2.5 / 3.0);  // 5 * 0.5 / (1 + 4 * 0.5)
  EXPECT_DOUBLE_EQ(shift_sigma(0.3, 1.0), 0.3);
}

// Values of the official FlowUniPCMultistepScheduler.set_timesteps(steps, shift=5) recomputed with
// numpy: linspace(0.999, 0, steps + 1)[:-1], shifted, times 1000, truncated to int64.
TEST(WanSchedule, SamplerTimestepsMatchTheOfficialUniPCSchedule) {
  const auto fifty = sampler_timesteps(50, 5.0);
  ASSERT_EQ(fifty.size(), 50u);
  EXPECT_EQ(std::vector<int64_t>(fifty.begin(), fifty.begin() + 6),
            (std::vector<int64_t>{999, 995, 991, 987, 982, 978}));
  EXPECT_EQ(std::vector<int64_t>(fifty.end() - 4, fifty.end()),
            (std::vector<int64_t>{302, 241, 172, 92}));
  EXPECT_NEAR(sampler_sigmas(50, 5.0)[25], 0.8330553702468312, 1e-12);
  EXPECT_EQ(sampler_timesteps(4, 5.0), (std::vector<int64_t>{999, 937, 833, 624}));
  EXPECT_THROW(sampler_timesteps(0, 5.0), Error);
}

TEST(WanSchedule, FlowNoisingInterpolatesLinearly) {
  const auto x0 = torch::full({2, 3}, 2.0), noise = torch::full({2, 3}, -1.0);
  EXPECT_TRUE(torch::allclose(add_flow_noise(x0, noise, sigma_of_timestep(0)), x0));
  EXPECT_TRUE(torch::allclose(add_flow_noise(x0, noise, sigma_of_timestep(1000)), noise));
  EXPECT_TRUE(torch::allclose(add_flow_noise(x0, noise, sigma_of_timestep(250)),
                              torch::full({2, 3}, 1.25)));
  EXPECT_THROW(sigma_of_timestep(1001), Error);
  EXPECT_THROW(sigma_of_timestep(-1), Error);
}

// The fixture's noise is Python's torch.randn(shape,
// generator=torch.Generator().manual_seed(1234)).
TEST(WanSchedule, SeededNoiseEqualsPythonTorchRandn) {
  const auto expected = testing::golden("noise");
  const auto noise = seeded_noise(expected.sizes(), 1234);
  EXPECT_TRUE(torch::equal(noise, expected));
  EXPECT_TRUE(torch::equal(seeded_noise(expected.sizes(), 1234, 0), noise));
  EXPECT_FALSE(torch::equal(seeded_noise(expected.sizes(), 1234, 1), noise));
  EXPECT_FALSE(torch::equal(seeded_noise(expected.sizes(), 1235), noise));
}

}  // namespace
}  // namespace vidprobe::backbones::wan
