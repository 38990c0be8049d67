#include "vidprobe/probe/probe_bench.h"

#include <torch/torch.h>

#include <chrono>

#include "vidprobe/core/error.h"
#include "vidprobe/probe/device.h"
#include "vidprobe/probe/trainer.h"

namespace vidprobe::probe {

nlohmann::json run_probe_benchmark(const ProbeBenchOptions& o) {
  require(o.batch >= 1 && o.frames >= 1 && o.feature_dim >= 1 && o.grid >= 1 && o.size >= 1,
          "bench probe: batch, frames, feature_dim, grid and size must be positive");
  require(o.steps >= 1 && o.warmup >= 0, "bench probe: steps must be >= 1 and warmup >= 0");
  if (o.threads > 0) torch::set_num_threads(o.threads);
  ProbeConfig config;
  if (!o.config_file.empty()) config = load_probe_config(o.config_file);
  const auto device = parse_device(o.device);

  torch::manual_seed(0);
  ProbeModel model(config, o.feature_dim);
  model->to(device);
  model->train();
  auto optimizer = make_probe_optimizer(model, config.train);

  // Random features; GT: a fronto-parallel plane seen by cameras sliding sideways, so the
  // normalisation and every loss term do their usual work.
  const int64_t B = o.batch, S = o.frames, H = o.size, W = o.size;
  ProbeBatch batch;
  batch.features = torch::randn({B, S, o.feature_dim, o.grid, o.grid}).to(torch::kFloat16);
  auto extrinsics = torch::eye(4).slice(0, 0, 3).repeat({B, S, 1, 1});
  for (int64_t s = 0; s < S; ++s)
    extrinsics.select(1, s).select(-1, 3).select(-1, 0).fill_(0.1 * s);
  const auto intrinsics =
      torch::tensor({{0.9 * W, 0.0, (W - 1) / 2.0}, {0.0, 0.9 * H, (H - 1) / 2.0}, {0.0, 0.0, 1.0}},
                    torch::kFloat32)
          .repeat({B, S, 1, 1});
  const auto depth = 2 + torch::rand({B, S, H, W});
  const auto valid = torch::ones({B, S, H, W}, torch::kBool);
  batch.targets = normalized_targets(depth, valid, extrinsics, intrinsics).to(device);
  batch.features = batch.features.to(device);

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
  return {{"benchmark", "probe_train_step"},
          {"device", o.device},
          {"steps_per_s", o.steps / seconds},
          {"ms_per_step", 1000.0 * seconds / o.steps},
          {"parameters", count_parameters(*model)},
          {"batch", o.batch},
          {"frames", o.frames},
          {"feature_dim", o.feature_dim},
          {"grid", o.grid},
          {"size", o.size},
          {"threads", torch::get_num_threads()},
          {"bf16", device.is_cuda() && config.train.bf16},
          {"last_loss", last_loss},
          {"config", to_json(config)}};
}

}  // namespace vidprobe::probe
