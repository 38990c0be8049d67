// The noise level and timestep of a sampler's schedule against diffusers' own UniPC scheduler,
// current and paper-era (tests/fixtures/wan/schedule.json, tools/make_wan_schedule_fixtures.py).
#include "vidprobe/backbones/diffusion_time.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace vidprobe::backbones {
namespace {
using ::testing::HasSubstr;

nlohmann::json schedule_fixture() {
  std::ifstream in(std::filesystem::path(VIDPROBE_TEST_DATA_DIR) / "wan" / "schedule.json");
  return nlohmann::json::parse(in);
}

TEST(DiffusionTime, UniPcSchedulesAreDiffusersOwn) {
  const auto fixture = schedule_fixture();
  ASSERT_GE(fixture.at("cases").size(), 4u);
  for (const auto& c : fixture.at("cases")) {
    const auto formula = c.at("diffusers") == "new" ? UniPcFormula::kCurrent : UniPcFormula::kFlip;
    const auto schedule = unipc_flow_schedule(c.at("flow_shift"), c.at("steps"), formula);
    const auto timesteps = c.at("timesteps").get<std::vector<std::int64_t>>();
    const auto sigmas = c.at("sigmas").get<std::vector<double>>();
    ASSERT_EQ(schedule.timesteps.size(), timesteps.size());
    EXPECT_EQ(schedule.timesteps, timesteps) << c.at("diffusers");
    for (std::size_t i = 0; i < timesteps.size(); ++i)
      EXPECT_EQ(schedule.sigmas[i], sigmas[i]) << c.at("diffusers") << " index " << i;
    for (const auto& probe : c.at("probes")) {
      const int index = probe.at("index");
      EXPECT_EQ(schedule.timesteps[static_cast<std::size_t>(index)], probe.at("t_input"));
      EXPECT_EQ(applied_sigma(schedule, index), probe.at("sigma_applied").get<double>())
          << c.at("diffusers") << " index " << index;
    }
  }
}

TEST(DiffusionTime, ThePapersWanNoiseLevel) {
  const auto current = parse_diffusion_time("unipc:shift=3,steps=1000,index=749");
  EXPECT_EQ(current.timestep, 502);
  EXPECT_NEAR(*current.sigma, 0.5023265480995178, 1e-15);
  const auto paper_era = parse_diffusion_time("unipc:shift=3,steps=1000,index=749,diffusers=0.36");
  EXPECT_EQ(paper_era.timestep, 500);
  EXPECT_NEAR(*paper_era.sigma, 0.5009976625442505, 1e-15);
  const auto plain = parse_diffusion_time("250");
  EXPECT_EQ(plain.timestep, 250);
  EXPECT_FALSE(plain.sigma.has_value());
  const auto sigma = parse_diffusion_time("sigma=0.25");
  EXPECT_EQ(sigma.timestep, 250);
  EXPECT_DOUBLE_EQ(*sigma.sigma, 0.25);
}

TEST(DiffusionTime, MalformedSpecsAreNamed) {
  using test_support::error_message;
  EXPECT_THAT(error_message([] { parse_diffusion_time("1001"); }), HasSubstr("0..1000"));
  EXPECT_THAT(error_message([] { parse_diffusion_time("12.5"); }), HasSubstr("'12.5'"));
  EXPECT_THAT(error_message([] { parse_diffusion_time("unipc:shift=3,steps=1000"); }),
              HasSubstr("missing index"));
  EXPECT_THAT(error_message([] { parse_diffusion_time("unipc:shift=3,steps=10,index=10"); }),
              HasSubstr("index < steps"));
  EXPECT_THAT(error_message([] { parse_diffusion_time("unipc:shift=3,steps=10,index=1,flow=2"); }),
              HasSubstr("unknown key 'flow'"));
  EXPECT_THAT(
      error_message([] { parse_diffusion_time("unipc:shift=3,steps=10,index=1,diffusers=0.20"); }),
      HasSubstr("diffusers"));
  EXPECT_THAT(error_message([] { parse_diffusion_time("sigma=1.5"); }), HasSubstr("[0, 1]"));
}

}  // namespace
}  // namespace vidprobe::backbones
