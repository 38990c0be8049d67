#pragma once
// Probe weights as safetensors (parameter and buffer names of the module tree, e.g.
// "aggregator.frame_blocks.0.attn.qkv.weight") and resumable training checkpoints:
//   <run>/checkpoints/step_00001000/  model.safetensors  optimizer.pt  state.json
// Each checkpoint directory is built under a temporary name and renamed, so a directory that
// exists is complete; the newest one is the one with the highest step.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::probe {

TensorMap module_state(const torch::nn::Module& module);  // CPU, contiguous copies
// Strict: a missing, unexpected or mis-shaped tensor throws vidprobe::Error naming it and source.
void load_module_state(torch::nn::Module& module, const TensorMap& state,
                       const std::string& source);

void save_weights(const std::filesystem::path& path, const torch::nn::Module& module,
                  const std::map<std::string, std::string>& metadata = {});
// Loads our names, or the authors' probe names (reference_names.h), strictly.
void load_weights(const std::filesystem::path& path, torch::nn::Module& module);

std::filesystem::path checkpoint_dir(const std::filesystem::path& run_dir, std::int64_t step);
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& run_dir);

void save_checkpoint(const std::filesystem::path& run_dir, std::int64_t step,
                     const torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                     const nlohmann::json& state, int keep);
// Loads weights and optimiser state in place; returns state.json.
nlohmann::json load_checkpoint(const std::filesystem::path& dir, torch::nn::Module& model,
                               torch::optim::Optimizer& optimizer);

// What --resume continues from: the newest checkpoint that loads (with a "step" in its
// state.json). A newer one that does not (truncated weights, damaged optimizer.pt, ...) is
// passed over with a line on stderr naming it and why; vidprobe::Error naming every checkpoint
// and its fault when none loads. nullopt when the run has no checkpoint.
struct ResumePoint {
  std::filesystem::path dir;
  std::int64_t step = 0;
};
std::optional<ResumePoint> load_newest_good_checkpoint(const std::filesystem::path& run_dir,
                                                       torch::nn::Module& model,
                                                       torch::optim::Optimizer& optimizer);

}  // namespace vidprobe::probe
