#pragma once
// Training a probe: AdamW (weight decay on every parameter, or only on matrices), the configured
// learning-rate schedule (schedule.h), optional gradient-norm clipping, bf16 autocast on CUDA,
// resumable checkpoints. Batches and views are a deterministic function of (seed, step): by
// epochs, every epoch visits the clips in a fresh seeded permutation and drops the last partial
// batch (as the authors' loader); by steps, the permutations are chained into one stream. Views
// are drawn per (seed, epoch, clip) (views.h). A resumed run therefore sees exactly the batches an
// uninterrupted one would (bit-identical on CPU with one thread).
//
// Run directory:
//   config.json              the ProbeConfig (written once, atomically)
//   run.json                 clip geometry, clip lists, length, feature cache provenance
//   baseline.safetensors     the mean predictor of the training clips (mean_predictor.h)
//   checkpoints/step_N/      resumable state (checkpoint.h)
//   model.safetensors        final weights
//   train_log.jsonl / .csv   loss terms, lr, grad norm, steps/s, and validation rows (val_loss and
//                            the paper's metrics, "val.Auc_30", ...)
//
// Data-parallel over a job of several processes (TrainOptions::group), as DDP: the step's global
// batch (batch_items with batch_size x grad_accumulation x processes clips) is cut into equal
// contiguous parts, one per process and micro-batch; gradients are averaged over the processes in
// buckets that overlap the backward pass (dist/gradient_sync.h); logged loss terms are averaged
// over processes. Rank 0 alone writes the run directory and validates. So N processes make the
// steps one process makes with grad_accumulation N, up to float rounding; config.json's "job"
// block records the per-process and the global batch, and a resume must keep the global batch
// (change --grad-accumulation to resume on another number of processes).
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "vidprobe/dist/gradient_sync.h"
#include "vidprobe/dist/group.h"
#include "vidprobe/probe/batch.h"
#include "vidprobe/probe/clip_source.h"
#include "vidprobe/probe/losses.h"
#include "vidprobe/probe/probe_config.h"
#include "vidprobe/probe/probe_model.h"
#include "vidprobe/probe/schedule.h"

namespace vidprobe::probe {

struct TrainOptions {
  ProbeConfig config;
  std::filesystem::path run_dir;
  torch::Device device = torch::kCPU;
  bool resume = false;   // continue from the newest checkpoint of run_dir
  bool progress = true;  // progress bar on stderr
  // Stop (after checkpointing) once this step is done, as if killed: for tests of --resume.
  std::optional<std::int64_t> stop_after_step;
  std::function<void(const nlohmann::json&)> on_log;  // every logged row
  dist::Group group;                                  // default: one process
};

struct TrainSummary {
  std::int64_t first_step = 0, last_step = 0;  // steps run in this call: [first, last)
  std::int64_t total_steps = 0;
  double seconds = 0, steps_per_second = 0;
  double final_loss = 0;
  std::optional<double> val_loss;
  std::int64_t parameters = 0;
};

// The clip positions of the batch of `step`, with the epoch each sample belongs to.
struct BatchItem {
  std::size_t clip = 0;
  std::uint64_t epoch = 0;
};
std::vector<BatchItem> batch_items(std::size_t num_clips, int batch_size, std::uint64_t seed,
                                   std::int64_t step, bool by_epochs);

// AdamW (fused on CUDA, fused_adamw.h): one group with weight decay on every parameter (the
// authors'), or two groups without decay on biases, norms, LayerScale and learned tokens
// (TrainConfig::decay_all_parameters).
std::unique_ptr<torch::optim::AdamW> make_probe_optimizer(ProbeModel& model,
                                                          const TrainConfig& config);

struct StepResult {
  LossOutput loss;
  double grad_norm = 0;  // before clipping (0 when clipping is off)
};
// One optimisation step at learning rate lr (bf16 autocast on CUDA when the config asks) over
// this process's micro-batches of the step: each loss counts 1 / micro-batches; with a `sync`,
// the gradients are then averaged over the job's processes. The loss terms are the micro-batches'
// mean.
StepResult train_step(ProbeModel& model, torch::optim::AdamW& optimizer,
                      const std::vector<ProbeBatch>& micro_batches, const ProbeConfig& config,
                      torch::Device device, double lr, dist::GradientSync* sync = nullptr);
StepResult train_step(ProbeModel& model, torch::optim::AdamW& optimizer, const ProbeBatch& batch,
                      const ProbeConfig& config, torch::Device device, double lr);

// val may be empty (no validation). Throws vidprobe::Error for bad input, an existing run
// directory without resume, or a resume whose config differs from the run's.
TrainSummary train_probe(const ClipSource& train, const ClipSource& val,
                         const TrainOptions& options);

}  // namespace vidprobe::probe
