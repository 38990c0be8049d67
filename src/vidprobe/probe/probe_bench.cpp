#include "vidprobe/probe/probe_bench.h"

#include <ATen/DeviceAccelerator.h>
#include <torch/torch.h>

#include <chrono>

#include "vidprobe/core/error.h"
#include "vidprobe/nn/kernel_profile.h"
#include "vidprobe/probe/trainer.h"

namespace vidprobe::probe {

nlohmann::json run_probe_benchmark(const ProbeBenchOptions& o) {
  require(o.batch >= 1 && o.frames >= 1 && o.feature_dim >= 1 && o.grid_h >= 1 && o.grid_w >= 1 &&
              o.height >= 1 && o.width >= 1,
          "bench probe: batch, frames, feature_dim, grid and size must be positive");
  require(o.steps >= 1 && o.warmup >= 0, "bench probe: steps must be >= 1 and warmup >= 0");
  if (o.threads > 0) torch::set_num_threads(o.threads);
  auto config = probe_preset(o.preset);
  if (!o.config_file.empty()) config = load_probe_config(o.config_file, config);
  if (o.gradient_checkpointing) config.model.gradient_checkpointing = *o.gradient_checkpointing;
  if (o.checkpoint_blocks) {
    require(*o.checkpoint_blocks >= -1 && *o.checkpoint_blocks <= config.model.num_blocks,
            "bench probe: --checkpoint-blocks " + std::to_string(*o.checkpoint_blocks) +
                " must be -1 (all) or in 0.." + std::to_string(config.model.num_blocks) +
                " (the probe's blocks)");
    config.model.checkpoint_blocks = *o.checkpoint_blocks;
  }
  const auto device = o.device;

  torch::manual_seed(0);
  ProbeModel model(config, o.feature_dim);
  model->to(device);
  model->train();
  auto optimizer = make_probe_optimizer(model, config.train);

  // Random features; GT: a fronto-parallel plane seen by cameras sliding sideways, so the
  // normalisation and every loss term do their usual work.
  const int64_t B = o.batch, S = o.frames, H = o.height, W = o.width;
  ProbeBatch batch;
  batch.features = torch::randn({B, S, o.feature_dim, o.grid_h, o.grid_w}).to(torch::kFloat16);
  auto extrinsics = torch::eye(4).slice(0, 0, 3).repeat({B, S, 1, 1});
  for (int64_t s = 0; s < S; ++s)
    extrinsics.select(1, s).select(-1, 3).select(-1, 0).fill_(0.1 * s);
  const auto intrinsics =
      torch::tensor({{0.9 * W, 0.0, (W - 1) / 2.0}, {0.0, 0.9 * H, (H - 1) / 2.0}, {0.0, 0.0, 1.0}},
                    torch::kFloat32)
          .repeat({B, S, 1, 1});
  const auto depth = 2 + torch::rand({B, S, H, W});
  const auto valid = torch::ones({B, S, H, W}, torch::kBool);
  const auto confidence = 1 + torch::rand({B, S, H, W});
  batch.targets = normalized_targets(depth, valid, confidence, extrinsics, intrinsics).to(device);
  batch.features = batch.features.to(device);

  // The peak restarts from what is allocated now (weights, optimiser state not yet).
  if (device.is_cuda()) at::accelerator::resetPeakStats(device.index());
  auto synchronize = [&] {
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };
  for (int i = 0; i < o.warmup; ++i)
    train_step(model, *optimizer, batch, config, device, config.train.lr);
  synchronize();
  const auto start = std::chrono::steady_clock::now();
  double last_loss = 0;
  for (int i = 0; i < o.steps; ++i)
    last_loss = train_step(model, *optimizer, batch, config, device, config.train.lr)
                    .loss.terms.at("loss")
                    .item<double>();
  synchronize();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json peak_gb = nullptr;
  if (device.is_cuda()) {
    peak_gb = static_cast<double>(
                  at::accelerator::getDeviceStats(device.index()).allocated_bytes[0].peak) /
              1e9;
  }
  nlohmann::json result = {{"benchmark", "probe_train_step"},
                           {"preset", o.preset},
                           {"device", device.str()},
                           {"steps_per_s", o.steps / seconds},
                           {"ms_per_step", 1000.0 * seconds / o.steps},
                           {"parameters", count_parameters(*model)},
                           {"batch", o.batch},
                           {"frames", o.frames},
                           {"feature_dim", o.feature_dim},
                           {"grid", {o.grid_h, o.grid_w}},
                           {"size", {o.height, o.width}},
                           {"peak_gb", peak_gb},
                           {"threads", torch::get_num_threads()},
                           {"bf16", device.is_cuda() && config.train.bf16},
                           {"gradient_checkpointing", config.model.gradient_checkpointing},
                           {"checkpoint_blocks", config.model.checkpoint_blocks},
                           {"cudnn_benchmark", config.train.cudnn_benchmark},
                           {"last_loss", last_loss},
                           {"config", to_json(config)}};
  if (!o.profile_dir.empty())
    result["profile"] = nn::profile_into_directory(  // after the timed steps: everything warm
        [&] {
          train_step(model, *optimizer, batch, config, device, config.train.lr);
          synchronize();
        },
        device.is_cuda(), o.profile_dir);
  return result;
}

}  // namespace vidprobe::probe
