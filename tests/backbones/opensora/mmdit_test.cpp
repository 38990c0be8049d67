// Open-Sora 2.0's MMDiT against the official opensora/models/mmdit code (fixtures written by
// tools/make_opensora_fixtures.py in a small seeded configuration with the published options).
#include "vidprobe/backbones/opensora/mmdit.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "backbones/opensora/test_fixtures.h"
#include "tensor_test_support.h"
#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/nn/linear.h"

namespace vidprobe::backbones::opensora {
namespace {
using fixtures::fixture;
using fixtures::fixture_json;
using fixtures::mmdit_golden;
using fixtures::small_mmdit_config;

using test_support::error_message;

using test_support::relative_error;

Mmdit small_model() {
  Mmdit model(small_mmdit_config());
  load_mmdit(model, load_safetensors(fixture("mmdit.safetensors")), "mmdit.safetensors");
  model->eval();
  return model;
}

MmditInputs golden_inputs() {
  return {mmdit_golden("latents"), mmdit_golden("cond"), mmdit_golden("txt"), mmdit_golden("y_vec"),
          mmdit_golden("timesteps")};
}

// Image and text tokens after every double and single block, and the prediction, match the
// official model (batch of 2 with different timesteps, a first-frame condition).
TEST(OpenSoraMmdit, MatchesTheOfficialModelAtEveryBlock) {
  auto model = small_model();
  torch::NoGradGuard no_grad;
  const auto out = model->run(golden_inputs(), {0, 1, 2, 3, 4}, /*with_prediction=*/true);
  for (int i = 0; i < 2; ++i) {
    EXPECT_LT(relative_error(out.img[i], mmdit_golden("double" + std::to_string(i) + "_img")), 1e-5)
        << i;
    EXPECT_LT(relative_error(out.txt[i], mmdit_golden("double" + std::to_string(i) + "_txt")), 1e-5)
        << i;
  }
  for (int i = 0; i < 3; ++i) {
    const auto joint = torch::cat({out.txt[2 + i], out.img[2 + i]}, 1);
    EXPECT_LT(relative_error(joint, mmdit_golden("single" + std::to_string(i))), 1e-5) << i;
  }
  EXPECT_LT(relative_error(out.prediction, mmdit_golden("output")), 1e-5);
  EXPECT_EQ(out.grid, (std::vector<int64_t>{3, 2, 3}));
}

// On a GPU in bf16, where the qk RMSNorm and RoPE take the runtime kernels, the residual updates
// with the modulated LayerNorms that read them the residual-norm kernel, the feed-forwards'
// first projection and GELU take the GEMM's epilogue and the single blocks' v and MLP projections
// are two GEMMs: every block's output within bf16's error of the official float32 model.
TEST(OpenSoraMmditCuda, Bf16OnTheGpuMatchesTheOfficialModel) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto model = small_model();
  model->to(torch::kCUDA, torch::kBFloat16);
  torch::NoGradGuard no_grad;
  const auto& single = model->single_blocks[0]->as<SingleStreamBlock>();
  const auto probe = torch::zeros({1, 4, single->hidden}, single->v_mlp->weight.options());
  ASSERT_TRUE(nn::gelu_epilogue_applies(probe, single->v_mlp->weight, single->v_mlp->bias));
  auto inputs = golden_inputs();
  for (auto* t : {&inputs.latents, &inputs.cond, &inputs.txt, &inputs.y_vec, &inputs.timesteps})
    *t = t->to(torch::kCUDA);
  const auto out = model->run(inputs, {0, 1, 2, 3, 4}, /*with_prediction=*/true);
  const auto cpu = [](const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat32); };
  for (int i = 0; i < 2; ++i) {
    const auto name = "double" + std::to_string(i);
    EXPECT_LT(relative_error(cpu(out.img[i]), mmdit_golden(name + "_img")), 5e-2) << i;
    EXPECT_LT(relative_error(cpu(out.txt[i]), mmdit_golden(name + "_txt")), 5e-2) << i;
  }
  for (int i = 0; i < 3; ++i) {
    const auto joint = cpu(torch::cat({out.txt[2 + i], out.img[2 + i]}, 1));
    const double error = relative_error(joint, mmdit_golden("single" + std::to_string(i)));
    EXPECT_LT(error, 5e-2) << i;
    EXPECT_GT(error, 0) << i;  // really computed in bf16
  }
  EXPECT_LT(relative_error(cpu(out.prediction), mmdit_golden("output")), 5e-2);
}

// The packing and the RoPE angles equal the sampler's pack() and LigerEmbedND's cos / sin.
TEST(OpenSoraMmdit, PackingAndRotaryAnglesMatchTheOfficialHelpers) {
  auto model = small_model();
  EXPECT_LT(relative_error(pack_latents(mmdit_golden("latents"), 2), mmdit_golden("img")), 1e-7);
  const auto angles = model->rotary_angles(2, 5, {3, 2, 3}, torch::kCPU);
  EXPECT_LT(relative_error(angles.cos.squeeze(1), mmdit_golden("rope_cos")), 1e-6);
  EXPECT_LT(relative_error(angles.sin.squeeze(1), mmdit_golden("rope_sin")), 1e-6);
}

// Stopping at a single block gives the same states; the condition matters; layers past the end
// are refused naming the range.
TEST(OpenSoraMmdit, StopsEarlyUsesTheConditionAndRefusesBadLayers) {
  auto model = small_model();
  torch::NoGradGuard no_grad;
  const auto out = model->run(golden_inputs(), {3});
  ASSERT_EQ(out.img.size(), 1u);
  EXPECT_LT(relative_error(torch::cat({out.txt[0], out.img[0]}, 1), mmdit_golden("single1")), 1e-5);
  EXPECT_FALSE(out.prediction.defined());
  auto inputs = golden_inputs();
  inputs.cond = torch::zeros_like(inputs.cond);
  EXPECT_GT(relative_error(model->run(inputs, {3}).img[0], out.img[0]), 1e-3);
  const auto message = error_message([&] { model->run(golden_inputs(), {5}); });
  EXPECT_NE(message.find("[0, 5)"), std::string::npos) << message;
}

// Blocks hand on their last residual update unsettled; which layers are kept decides where it is
// settled, never the values: any subset gives the bits of the run that keeps every layer.
TEST(OpenSoraMmdit, KeptLayersLeaveTheOthersBitForBit) {
  auto model = small_model();
  torch::NoGradGuard no_grad;
  const auto all = model->run(golden_inputs(), {0, 1, 2, 3, 4}, /*with_prediction=*/true);
  const auto some = model->run(golden_inputs(), {1, 3}, /*with_prediction=*/true);
  EXPECT_TRUE(torch::equal(some.img[0], all.img[1]));
  EXPECT_TRUE(torch::equal(some.txt[0], all.txt[1]));
  EXPECT_TRUE(torch::equal(some.img[1], all.img[3]));
  EXPECT_TRUE(torch::equal(some.prediction, all.prediction));
  const auto deepest = model->run(golden_inputs(), {4});
  EXPECT_TRUE(torch::equal(deepest.img[0], all.img[4]));
}

// A checkpoint missing a key or with a fused-qkv layout is refused naming the key.
TEST(OpenSoraMmdit, CheckpointsLoadStrictly) {
  auto tensors = load_safetensors(fixture("mmdit.safetensors"));
  tensors.erase("single_blocks.2.norm.key_norm.scale");
  Mmdit model(small_mmdit_config());
  const auto message = error_message([&] { load_mmdit(model, tensors, "ckpt.safetensors"); });
  EXPECT_NE(message.find("single_blocks.2.norm.key_norm.scale"), std::string::npos) << message;
  EXPECT_NE(message.find("ckpt.safetensors"), std::string::npos) << message;
  auto json = fixture_json("config.json");
  json["fused_qkv"] = true;
  EXPECT_NE(error_message([&] { mmdit_config_from_json(json, "c.json"); }).find("fused_qkv"),
            std::string::npos);
}

// The size table is the real model: mmdit_layout of the registered config has the official
// MMDiTModel's parameter and key counts (built on the meta device by the fixture script), and the
// module's own parameters are exactly the layout.
TEST(OpenSoraMmdit, SizeTableMatchesTheOfficialConstructor) {
  const auto counts = fixture_json("param_counts.json").at("opensora-v2");
  const auto layout = mmdit_layout(mmdit_config("opensora-v2"));
  EXPECT_EQ(element_count(layout), counts.at("parameters").get<int64_t>());
  EXPECT_EQ(static_cast<int64_t>(layout.size()), counts.at("state_dict_keys").get<int64_t>());
  Mmdit model(small_mmdit_config());
  EXPECT_EQ(module_shapes(*model), mmdit_layout(small_mmdit_config()));
  const auto& real = mmdit_config("opensora-v2");
  EXPECT_EQ(real.blocks(), 57);
  EXPECT_EQ(real.head_dim(), 128);
}

}  // namespace
}  // namespace vidprobe::backbones::opensora
