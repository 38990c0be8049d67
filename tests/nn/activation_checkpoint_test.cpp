#include "vidprobe/nn/activation_checkpoint.h"

#include <ATen/DeviceAccelerator.h>
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "vidprobe/nn/alternating_attention.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/transformer.h"

namespace vidprobe::nn {
namespace {

Block small_block() {
  return Block(BlockOptions{.attention = {.dim = 16, .num_heads = 2, .qk_norm = true},
                            .layer_scale_init = 0.5});
}

CheckpointedFunction forward_of(const Block& block) {
  return [impl = block.ptr()](const torch::Tensor& t) { return impl->forward(t); };
}

// CPU autocast to bf16 as a training step enters and leaves it (nn::AutocastGuard covers CUDA
// only), leaving as torch.autocast's context does.
class CpuAutocast {
 public:
  CpuAutocast() {
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~CpuAutocast() {
    at::autocast::set_autocast_enabled(at::kCPU, false);
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  }
  CpuAutocast(const CpuAutocast&) = delete;
  CpuAutocast& operator=(const CpuAutocast&) = delete;
};

// Three training steps of a checkpointed block, then three of a plain copy, each forward pass
// under `Autocast` (closed before the backward pass, as training loops do) and every weight
// changed in place after each step. Returns the largest difference of the steps' input
// gradients; a replay that kept bf16 weight copies in autocast's cache would run a later step
// with the weights from before the optimiser step.
template <typename Autocast>
double later_steps_gap(torch::Device device) {
  torch::manual_seed(6);
  auto plain_block = small_block(), replayed_block = small_block();
  plain_block->to(device);
  replayed_block->to(device);
  {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < plain_block->parameters().size(); ++i)
      replayed_block->parameters()[i].copy_(plain_block->parameters()[i]);
  }
  const auto x = torch::randn({2, 6, 16}, device);
  auto step = [&](Block& block, bool checkpoint) {
    for (auto& p : block->parameters()) p.mutable_grad() = torch::Tensor();
    auto input = x.clone().requires_grad_(true);
    torch::Tensor output;
    {
      Autocast autocast;
      output = checkpoint ? checkpointed(forward_of(block), input) : block->forward(input);
    }
    // The loss reads the output: a stale forward pass shows in the gradients too.
    output.to(torch::kFloat32).square().sum().backward();
    torch::NoGradGuard no_grad;  // an optimiser step
    for (auto& p : block->parameters()) p.sub_(0.5 * p.grad().sign());
    return input.grad();
  };
  // One run after the other: a plain step between two replayed ones would empty the cache.
  std::vector<torch::Tensor> replayed;
  for (int i = 0; i < 3; ++i) replayed.push_back(step(replayed_block, true));
  double gap = 0;
  for (int i = 0; i < 3; ++i)
    gap =
        std::max(gap, (step(plain_block, false) - replayed[i]).abs().max().template item<double>());
  return gap;
}

struct Gradients {
  torch::Tensor output, input;
  std::vector<torch::Tensor> parameters;
};

// One forward and backward of `block` on `x`, through checkpointed() or directly.
Gradients gradients_of(Block& block, const torch::Tensor& x, bool checkpoint) {
  for (auto& p : block->parameters()) p.mutable_grad() = torch::Tensor();
  auto input = x.detach().clone().requires_grad_(true);
  const auto output = checkpoint ? checkpointed(forward_of(block), input) : block->forward(input);
  (output * output.detach().sin()).sum().backward();
  Gradients g{output.detach(), input.grad(), {}};
  for (const auto& p : block->parameters()) g.parameters.push_back(p.grad().clone());
  return g;
}

void expect_same(const Gradients& a, const Gradients& b, double tolerance) {
  EXPECT_LE((a.output - b.output).abs().max().item<double>(), tolerance);
  EXPECT_LE((a.input - b.input).abs().max().item<double>(), tolerance);
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (std::size_t i = 0; i < a.parameters.size(); ++i)
    EXPECT_LE((a.parameters[i] - b.parameters[i]).abs().max().item<double>(), tolerance)
        << "parameter " << i;
}

TEST(ActivationCheckpoint, GradientsEqualThoseWithoutCheckpointing) {
  torch::manual_seed(0);
  auto block = small_block();
  const auto x = torch::randn({2, 5, 16});
  const auto plain = gradients_of(block, x, false);
  const auto replayed = gradients_of(block, x, true);
  expect_same(plain, replayed, 1e-6);
  EXPECT_GT(plain.input.abs().sum().item<double>(), 0);
}

TEST(ActivationCheckpoint, KeepsOnlyItsInputNotTheFunctionsGraph) {
  torch::manual_seed(1);
  auto block = small_block();
  const auto input = torch::randn({1, 3, 16}).requires_grad_(true);
  const auto output = checkpointed(forward_of(block), input);
  // One node for the whole block, whose one edge leads to the input: the block's own operations
  // (and the activations they would save) are not in the graph.
  ASSERT_NE(output.grad_fn(), nullptr);
  EXPECT_EQ(output.grad_fn()->num_inputs(), 1u);
  EXPECT_EQ(output.grad_fn()->next_edges().size(), 1u);
}

TEST(ActivationCheckpoint, ParametersGetGradientsWhenTheInputNeedsNone) {
  torch::manual_seed(2);
  auto block = small_block();
  // An input that needs no gradient (features fed in directly): no checkpointing then, and the
  // parameters still learn.
  const auto input = torch::randn({1, 4, 16});
  for (auto& p : block->parameters()) p.mutable_grad() = torch::Tensor();
  checkpointed(forward_of(block), input).square().sum().backward();
  for (const auto& p : block->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0);
  }
}

TEST(ActivationCheckpoint, ParameterHooksSeeEachGradientOnce) {
  // What data-parallel training relies on (dist/gradient_sync.h hooks every parameter).
  torch::manual_seed(8);
  auto block = small_block();
  const auto weight = block->parameters().front();
  int calls = 0;
  torch::Tensor seen;
  weight.register_hook([&](const torch::Tensor& gradient) {
    ++calls;
    seen = gradient.clone();
  });
  weight.mutable_grad() = torch::Tensor();
  const auto input = torch::randn({1, 4, 16}).requires_grad_(true);
  checkpointed(forward_of(block), input).square().sum().backward();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(seen.defined());
  EXPECT_TRUE(torch::equal(seen, weight.grad()));
}

TEST(ActivationCheckpoint, ASecondDerivativeIsRefused) {
  auto block = small_block();
  const auto input = torch::randn({1, 3, 16}).requires_grad_(true);
  const auto output = checkpointed(forward_of(block), input);
  EXPECT_THROW(torch::autograd::grad({output.square().sum()}, {input}, {}, std::nullopt,
                                     /*create_graph=*/true),
               std::exception);
}

TEST(ActivationCheckpoint, OutsideGradModeItOnlyRunsTheFunction) {
  auto block = small_block();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 2, 16});
  const auto output = checkpointed(forward_of(block), x);
  EXPECT_EQ(output.grad_fn(), nullptr);
  EXPECT_TRUE(torch::equal(output, block->forward(x)));
}

// The replay runs under the autocast state of the first pass, not under the state at backward
// time (training loops leave the autocast region before calling backward).
TEST(ActivationCheckpoint, ReplaysUnderTheForwardPassesAutocast) {
  torch::manual_seed(3);
  auto block = small_block();
  const auto x = torch::randn({2, 6, 16});
  auto under_autocast = [&](bool checkpoint) {
    for (auto& p : block->parameters()) p.mutable_grad() = torch::Tensor();
    auto input = x.clone().requires_grad_(true);
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
    auto output = checkpoint ? checkpointed(forward_of(block), input) : block->forward(input);
    at::autocast::set_autocast_enabled(at::kCPU, false);
    at::autocast::clear_cache();
    output.to(torch::kFloat32).sum().backward();
    return input.grad();
  };
  const auto plain = under_autocast(false), replayed = under_autocast(true);
  EXPECT_LE((plain - replayed).abs().max().item<double>(), 1e-6);
  // And the check can fail: a replay in float32 gives visibly different bf16-free gradients.
  for (auto& p : block->parameters()) p.mutable_grad() = torch::Tensor();
  auto input = x.clone().requires_grad_(true);
  block->forward(input).sum().backward();
  EXPECT_GT((plain - input.grad()).abs().max().item<double>(), 1e-4);
}

TEST(ActivationCheckpoint, LaterStepsUnderAutocastUseTheUpdatedWeights) {
  EXPECT_LE(later_steps_gap<CpuAutocast>(torch::kCPU), 1e-6);
}

// The autograd nodes behind `root` whose name holds `needle` (each counted once).
int count_graph_nodes(const torch::Tensor& root, const std::string& needle) {
  std::set<const torch::autograd::Node*> seen;
  std::vector<const torch::autograd::Node*> open{root.grad_fn().get()};
  int count = 0;
  while (!open.empty()) {
    const auto* node = open.back();
    open.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    if (node->name().find(needle) != std::string::npos) ++count;
    for (const auto& edge : node->next_edges()) open.push_back(edge.function.get());
  }
  return count;
}

TEST(ActivationCheckpoint, AlternatingTrunkGradientsMatchWithAndWithoutIt) {
  torch::manual_seed(4);
  torch::nn::ModuleList frame_blocks, global_blocks;
  for (int i = 0; i < 2; ++i) {
    frame_blocks->push_back(small_block());
    global_blocks->push_back(small_block());
  }
  const auto tokens = torch::randn({2 * 3, 1 + 2 * 2, 16});
  int checkpointed_layers = -1;
  auto run = [&](int checkpointed_blocks) {
    for (auto& list : {frame_blocks, global_blocks})
      for (auto& p : list->parameters()) p.mutable_grad() = torch::Tensor();
    auto input = tokens.clone().requires_grad_(true);
    const auto out = run_alternating_blocks(
        frame_blocks, global_blocks, input,
        {.batch = 2, .frames = 3, .patch_start = 1, .h = 2, .w = 2},
        {.num_heads = 2, .rope_frequency = 100, .checkpointed_blocks = checkpointed_blocks});
    torch::Tensor loss = torch::zeros({});
    for (const auto& t : out.intermediates) loss = loss + (t * t.detach().cos()).sum();
    checkpointed_layers = count_graph_nodes(loss, "CheckpointFunction");
    loss.backward();
    std::vector<torch::Tensor> grads{input.grad()};
    for (auto& list : {frame_blocks, global_blocks})
      for (auto& p : list->parameters()) grads.push_back(p.grad().clone());
    return grads;
  };
  const auto plain = run(0);
  EXPECT_EQ(checkpointed_layers, 0);
  for (int checkpointed : {1, 2}) {  // the first block only, then both
    const auto replayed = run(checkpointed);
    EXPECT_EQ(checkpointed_layers, 2 * checkpointed);  // a frame and a global layer a block
    ASSERT_EQ(plain.size(), replayed.size());
    for (std::size_t i = 0; i < plain.size(); ++i)
      EXPECT_LE((plain[i] - replayed[i]).abs().max().item<double>(), 1e-6)
          << checkpointed << " blocks checkpointed, gradient " << i;
  }
}

// The CUDA twin, with the training loop's own guard: there the backward pass (and so the
// replay) runs on a device thread.
struct TrainingLoopAutocast {
  AutocastGuard guard{torch::kCUDA, true};
};

TEST(ActivationCheckpoint, LaterCudaStepsUseTheUpdatedWeights) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "CUDA only";
  EXPECT_LE(later_steps_gap<TrainingLoopAutocast>(torch::kCUDA), 1e-5);
}

TEST(ActivationCheckpoint, HoldsLessMemoryOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "CUDA only (the CPU twin: the tests above)";
  torch::manual_seed(5);
  auto block = Block(BlockOptions{.attention = {.dim = 256, .num_heads = 4}});
  block->to(torch::kCUDA);
  const auto x = torch::randn({4, 2048, 256}, torch::kCUDA).requires_grad_(true);
  auto held_after_forward = [&](bool checkpoint) {
    torch::cuda::synchronize();
    const auto before = at::accelerator::getDeviceStats(0).allocated_bytes[0].current;
    auto out = checkpoint ? checkpointed(forward_of(block), x) : block->forward(x);
    torch::cuda::synchronize();
    return at::accelerator::getDeviceStats(0).allocated_bytes[0].current - before;
  };
  const auto plain = held_after_forward(false), replayed = held_after_forward(true);
  const auto output_bytes = x.numel() * 4;
  EXPECT_LE(replayed, 2 * output_bytes) << "the output (and no activations) stays";
  EXPECT_GT(plain, 4 * output_bytes) << "without it the block's activations stay";
}

}  // namespace
}  // namespace vidprobe::nn
