#pragma once
// Training a probe: AdamW (no weight decay on biases, norms, LayerScale and learned tokens),
// linear warm-up then cosine decay, gradient-norm clipping, bf16 autocast on CUDA, resumable
// checkpoints. Batches are a deterministic function of (seed, step): every epoch visits the
// clips in a fresh seeded permutation, so a resumed run sees exactly the batches an
// uninterrupted one would (bit-identical on CPU with one thread).
//
// Run directory:
//   config.json              the ProbeConfig (written once, atomically)
//   run.json                 clip geometry, clip lists, feature cache provenance
//   baseline.safetensors     the mean predictor of the training clips (mean_predictor.h)
//   checkpoints/step_N/      resumable state (checkpoint.h)
//   model.safetensors        final weights
//   train_log.jsonl / .csv   loss terms, lr, grad norm, steps/s (and val_loss when validating)
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "vidprobe/probe/batch.h"
#include "vidprobe/probe/clip_source.h"
#include "vidprobe/probe/losses.h"
#include "vidprobe/probe/probe_config.h"
#include "vidprobe/probe/probe_model.h"

namespace vidprobe::probe {

struct TrainOptions {
  ProbeConfig config;
  std::filesystem::path run_dir;
  std::string device = "cpu";
  bool resume = false;   // continue from the newest checkpoint of run_dir
  bool progress = true;  // progress bar on stderr
  // Stop (after checkpointing) once this step is done, as if killed: for tests of --resume.
  std::optional<std::int64_t> stop_after_step;
  std::function<void(const nlohmann::json&)> on_log;  // every logged row
};

struct TrainSummary {
  std::int64_t first_step = 0, last_step = 0;  // steps run in this call: [first, last)
  double seconds = 0, steps_per_second = 0;
  double final_loss = 0;
  std::optional<double> val_loss;
  std::int64_t parameters = 0;
};

// Learning rate at a step: linear warm-up over warmup_fraction of the steps, then cosine decay
// from lr to lr * min_lr_fraction.
double learning_rate_at(const TrainConfig& config, std::int64_t step);

// The clip positions of the batch of `step` (see above).
std::vector<std::size_t> batch_indices(std::size_t num_clips, int batch_size, std::uint64_t seed,
                                       std::int64_t step);

// AdamW with two groups: weight decay on matrices, none on biases, norms, LayerScale and tokens.
std::unique_ptr<torch::optim::AdamW> make_probe_optimizer(ProbeModel& model,
                                                          const TrainConfig& config);

struct StepResult {
  LossOutput loss;
  double grad_norm = 0;  // before clipping (0 when clipping is off)
};
// One optimisation step at learning rate lr (bf16 autocast on CUDA when the config asks).
StepResult train_step(ProbeModel& model, torch::optim::AdamW& optimizer, const ProbeBatch& batch,
                      const ProbeConfig& config, torch::Device device, double lr);

// val may be empty (no validation). Throws vidprobe::Error for bad input, an existing run
// directory without resume, or a resume whose config differs from the run's.
TrainSummary train_probe(const ClipSource& train, const ClipSource& val,
                         const TrainOptions& options);

}  // namespace vidprobe::probe
