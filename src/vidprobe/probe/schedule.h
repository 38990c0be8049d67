#pragma once
// How long a probe trains and at which learning rate each step runs.
#include <cstdint>
#include <vector>

#include "vidprobe/probe/probe_config.h"

namespace vidprobe::probe {

struct TrainLength {
  std::int64_t steps_per_epoch = 0;  // floor(clips / batch): the last partial batch is dropped
  std::int64_t total_steps = 0;
  bool by_epochs = false;
};

// Throws vidprobe::Error when training by epochs with fewer clips than one batch.
TrainLength train_length(const TrainConfig& config, std::size_t num_clips);

// The learning rate of every step 0 .. total_steps - 1:
//   "epoch_warmup_cosine": pl_bolts' LinearWarmupCosineAnnealingLR as the authors configure it
//     (warm-up warmup_epochs * steps_per_epoch steps from 0, max_epochs = total_steps, eta_min =
//     min_lr, stepped after every optimiser step), reproduced with its own recursive update so
//     the values agree to the last bit: lr 0 at step 0, lr rising by lr / (warm-up - 1) per step
//     to lr at the warm-up's end, then each step scaling (lr - eta_min) by the ratio of
//     consecutive cosine factors;
//   "fraction_warmup_cosine": linear warm-up over warmup_fraction of the steps from
//     lr / warm-up, then cosine decay to lr * min_lr_fraction.
std::vector<double> learning_rates(const TrainConfig& config, const TrainLength& length);

}  // namespace vidprobe::probe
