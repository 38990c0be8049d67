// Building a diffusion transformer at real size for a checkpoint load (CPU), as
// `vidprobe extract --weights` does before the first clip: the module built with nn::Linear's
// draws (torch::nn::Linear's initialisation, serial on the CPU) against the same module built in
// an nn::UndrawnLinears scope, each followed by the strict load of the same bf16 tensors
// (backbones/checkpoint_mapping.h's load_module_strict; the checkpoint's read from disk and its key
// mapping are left out, the same on both sides). One iteration builds and loads both, the order
// swapped every iteration, after an untimed build and load: the process keeps the freed memory
// (malloc_trim does not return it), so whichever side ran first would pay the first touch of the
// module's 6.8 GB alone (10.3 s undrawn, 21.6 s drawn, first in their processes on the 2-core
// development machine). Both sides here reuse touched memory: the figure is the draws' own cost.
// Counters: drawn_s, undrawn_s, drawn_over_undrawn, parameters; and a JSON line per iteration.
// CogVideoX-2B (1.7 B parameters: 6.8 GB of float32 module and 3.4 GB of bf16 tensors at once).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/backbones/cogvideox/config.h"
#include "vidprobe/backbones/cogvideox/transformer.h"
#include "vidprobe/nn/linear.h"

namespace {

using vidprobe::TensorMap;
using vidprobe::backbones::cogvideox::Transformer;

double seconds_of(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Random bf16 tensors of every parameter and buffer of the module, under its own names.
TensorMap checkpoint_like(const torch::nn::Module& module) {
  TensorMap tensors;
  for (const auto& item : module.named_parameters(true))
    tensors[item.key()] = torch::randn(item.value().sizes(), torch::kBFloat16);
  for (const auto& item : module.named_buffers(true)) tensors[item.key()] = item.value().clone();
  return tensors;
}

void BM_TransformerBuildAndLoad(benchmark::State& state) {
  const auto& config = vidprobe::backbones::cogvideox::transformer_config("cogvideox-2b");
  const auto build = [&](bool undrawn) {
    if (!undrawn) return Transformer(config);
    vidprobe::nn::UndrawnLinears scope;
    return Transformer(config);
  };
  const TensorMap tensors = checkpoint_like(*build(/*undrawn=*/true));
  int64_t parameters = 0;
  for (const auto& [name, tensor] : tensors) parameters += tensor.numel();
  const auto build_and_load = [&](bool undrawn) {
    return seconds_of([&] {
      auto model = build(undrawn);
      vidprobe::backbones::load_module_strict(*model, tensors, "bench", "CogVideoX-2B");
    });
  };
  build_and_load(/*undrawn=*/true);  // the first touch of the module's memory, untimed
  double drawn_s = 0.0, undrawn_s = 0.0;
  bool drawn_first = true;
  for (auto _ : state) {
    if (drawn_first) drawn_s = build_and_load(false);
    undrawn_s = build_and_load(true);
    if (!drawn_first) drawn_s = build_and_load(false);
    drawn_first = !drawn_first;
    state.SetIterationTime(drawn_s + undrawn_s);
    std::cout << nlohmann::json{{"benchmark", "transformer_build_and_load"},
                                {"model", "cogvideox-2b"},
                                {"parameters", parameters},
                                {"threads", torch::get_num_threads()},
                                {"drawn_first", !drawn_first},
                                {"drawn_s", drawn_s},
                                {"undrawn_s", undrawn_s},
                                {"drawn_over_undrawn", drawn_s / undrawn_s}}
                     .dump()
              << std::endl;
  }
  state.counters["parameters"] = static_cast<double>(parameters);
  state.counters["drawn_s"] = drawn_s;
  state.counters["undrawn_s"] = undrawn_s;
  state.counters["drawn_over_undrawn"] = drawn_s / undrawn_s;
}
BENCHMARK(BM_TransformerBuildAndLoad)->UseManualTime()->Iterations(4)->Unit(benchmark::kSecond);

}  // namespace
