#include "probe_options.h"

#include "typed_options.h"

namespace vidprobe::cli {

void add_training_overrides(CLI::App& cmd, probe::ConfigOverrides& overrides,
                            const std::string& scope) {
  cmd.add_option("--epochs", overrides.epochs,
                 "Training epochs" + scope + " (overrides the config; clears its steps)")
      ->check(in_range(1, 1e6));
  cmd.add_option("--steps", overrides.steps,
                 "Training steps" + scope + " (overrides the config; clears its epochs)")
      ->check(in_range(1, 1e9));
  cmd.add_option("--batch", overrides.batch_size, "Clips per batch (overrides the config)")
      ->check(positive());
  cmd.add_option("--grad-accumulation", overrides.grad_accumulation,
                 "Micro-batches per step and process: the global batch is --batch x this x the "
                 "job's processes (overrides the config)")
      ->check(positive());
  cmd.add_option("--lr", overrides.lr, "Peak learning rate (overrides the config)")
      ->check(in_range(1e-12, 1000));
  cmd.add_option("--gradient-checkpointing", overrides.gradient_checkpointing,
                 "on | off: run each trunk layer again in the backward pass instead of keeping "
                 "its activations (overrides the config; the vidfm3d preset: on, as the authors)")
      ->transform(on_off());
}

}  // namespace vidprobe::cli
