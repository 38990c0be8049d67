// The full WAN2.1 text-to-video sampling loop against diffusers' WanPipeline on the tiny random
// transformer of tests/fixtures/wan (tests/fixtures/wan/sampler.*,
// tools/make_wan_sampler_fixtures.py).
#include "vidprobe/backbones/wan/sampling.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "backbones/wan/test_fixtures.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {
namespace {

using testing::fixture;
using testing::relative_error;

const TensorMap& sampler_tensors() {
  static const TensorMap tensors = load_safetensors(fixture("sampler.safetensors"));
  return tensors;
}

nlohmann::json pipeline_cases() {
  std::ifstream in(fixture("sampler.json"));
  return nlohmann::json::parse(in).at("pipeline");
}

const Transformer& small_transformer() {
  static const Transformer model = [] {
    Transformer dit(dit_config_from_json(testing::fixture_configs()["dit"], "configs.json"),
                    torch::kCPU, torch::kFloat32);
    dit.load(load_checkpoint(fixture("dit_diffusers.safetensors")), "dit_diffusers.safetensors");
    return dit;
  }();
  return model;
}

TEST(WanSampling, T2VOptionsAreTheDiffusersSchedulerConfig) {
  const auto options = t2v_sampler_options();
  EXPECT_EQ(options.flow_shift, 3.0);
  EXPECT_EQ(options.solver_order, 2);
  EXPECT_EQ(options.variant, UniPcVariant::kBh2);
  EXPECT_TRUE(options.lower_order_final);
  EXPECT_EQ(options.final_sigma, FinalSigma::kZero);
  EXPECT_EQ(t2v_sampler_options(5.0).flow_shift, 5.0);
}

// Final latents (and, for the guided 4-step case, the latents after every step) match the
// pipeline's: guidance 5 and 1 (no unconditional pass), flow shift 3 and 5.
TEST(WanSampling, MatchesWanPipeline) {
  const auto& tensors = sampler_tensors();
  const auto cases = pipeline_cases();
  ASSERT_EQ(cases.size(), 3u);
  for (const auto& c : cases) {
    const std::string prefix = "pipeline/" + c.at("name").get<std::string>() + "/";
    SamplingOptions options;
    options.steps = c.at("steps");
    options.guidance_scale = c.at("guidance_scale");
    options.sampler = t2v_sampler_options(c.at("flow_shift"));
    std::vector<torch::Tensor> per_step;
    options.on_step = [&](int, const torch::Tensor& latents) { per_step.push_back(latents); };
    const auto final = sample_latents(small_transformer(), tensors.at("pipeline/latents"),
                                      tensors.at("pipeline/prompt_embeds"),
                                      tensors.at("pipeline/negative_prompt_embeds"), options);
    EXPECT_LT(relative_error(final, tensors.at(prefix + "final")), 1e-5) << prefix;
    ASSERT_EQ(per_step.size(), static_cast<std::size_t>(options.steps));
    for (std::size_t i = 0; i < per_step.size(); ++i) {
      const auto key = prefix + "step" + std::to_string(i);
      EXPECT_LT(relative_error(per_step[i], tensors.at(key)), 1e-5) << key;
    }
  }
}

// The comparison above can fail: without the UniC corrector the same run lands far from the
// pipeline's latents.
TEST(WanSampling, TheCorrectorChangesTheResult) {
  const auto& tensors = sampler_tensors();
  SamplingOptions options;
  options.steps = 4;
  options.guidance_scale = 5.0;
  options.sampler = t2v_sampler_options(3.0);
  options.sampler.disable_corrector = {0, 1, 2};
  const auto final = sample_latents(small_transformer(), tensors.at("pipeline/latents"),
                                    tensors.at("pipeline/prompt_embeds"),
                                    tensors.at("pipeline/negative_prompt_embeds"), options);
  EXPECT_GT(relative_error(final, tensors.at("pipeline/cfg5/final")), 1e-3);
}

TEST(WanSampling, GuidanceNeedsANegativeContext) {
  SamplingOptions options;
  options.steps = 1;
  options.guidance_scale = 5.0;
  const auto& tensors = sampler_tensors();
  EXPECT_THROW(sample_latents(small_transformer(), tensors.at("pipeline/latents"),
                              tensors.at("pipeline/prompt_embeds"), torch::Tensor(), options),
               Error);
}

}  // namespace
}  // namespace vidprobe::backbones::wan
