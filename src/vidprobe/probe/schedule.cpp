#include "vidprobe/probe/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "vidprobe/core/error.h"

namespace vidprobe::probe {
namespace {

std::vector<double> epoch_warmup_cosine(const TrainConfig& c, const TrainLength& length) {
  const auto total = length.total_steps;
  const auto warmup =
      static_cast<std::int64_t>(c.warmup_epochs * static_cast<double>(length.steps_per_epoch));
  const double span = static_cast<double>(total - warmup);
  const double pi = std::numbers::pi;
  std::vector<double> lrs(static_cast<std::size_t>(total));
  double lr = 0;  // pl_bolts' warmup_start_lr default
  for (std::int64_t k = 0; k < total; ++k) {
    if (k == 0) {
      lr = 0;
    } else if (k < warmup) {
      lr = lr + (c.lr - 0) / static_cast<double>(warmup - 1);
    } else if (k == warmup) {
      lr = c.lr;
    } else if (const auto period = 2 * (total - warmup);
               ((k - 1 - total) % period + period) % period == 0) {
      lr = lr + (c.lr - c.min_lr) * (1 - std::cos(pi / span)) / 2;
    } else {
      lr = (1 + std::cos(pi * static_cast<double>(k - warmup) / span)) /
               (1 + std::cos(pi * static_cast<double>(k - warmup - 1) / span)) * (lr - c.min_lr) +
           c.min_lr;
    }
    lrs[static_cast<std::size_t>(k)] = lr;
  }
  return lrs;
}

std::vector<double> fraction_warmup_cosine(const TrainConfig& c, const TrainLength& length) {
  const auto total = length.total_steps;
  const auto warmup = static_cast<std::int64_t>(std::llround(c.warmup_fraction * total));
  const double floor = c.lr * c.min_lr_fraction;
  std::vector<double> lrs(static_cast<std::size_t>(total));
  for (std::int64_t step = 0; step < total; ++step) {
    double lr = 0;
    if (step < warmup) {
      lr = c.lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
    } else {
      const double span = static_cast<double>(std::max<std::int64_t>(1, total - warmup));
      const double progress = std::clamp(static_cast<double>(step - warmup) / span, 0.0, 1.0);
      lr = floor + (c.lr - floor) * 0.5 * (1 + std::cos(std::numbers::pi * progress));
    }
    lrs[static_cast<std::size_t>(step)] = lr;
  }
  return lrs;
}

}  // namespace

TrainLength train_length(const TrainConfig& config, std::size_t num_clips) {
  require(num_clips > 0, "no training clips");
  TrainLength length;
  length.steps_per_epoch =
      static_cast<std::int64_t>(num_clips) / static_cast<std::int64_t>(config.batch_size);
  length.by_epochs = config.epochs > 0;
  if (length.by_epochs) {
    require(length.steps_per_epoch > 0,
            "training by epochs needs at least one full batch: " + std::to_string(num_clips) +
                " training clips, batch size " + std::to_string(config.batch_size) +
                " (lower --batch or train by --steps)");
    length.total_steps = config.epochs * length.steps_per_epoch;
  } else {
    length.steps_per_epoch = std::max<std::int64_t>(1, length.steps_per_epoch);
    length.total_steps = config.steps;
  }
  return length;
}

std::vector<double> learning_rates(const TrainConfig& config, const TrainLength& length) {
  return config.schedule == "epoch_warmup_cosine" ? epoch_warmup_cosine(config, length)
                                                  : fraction_warmup_cosine(config, length);
}

}  // namespace vidprobe::probe
