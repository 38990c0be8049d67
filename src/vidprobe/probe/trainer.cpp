#include "vidprobe/probe/trainer.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <future>
#include <numbers>
#include <sstream>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/progress.h"
#include "vidprobe/probe/batch.h"
#include "vidprobe/probe/checkpoint.h"
#include "vidprobe/probe/device.h"
#include "vidprobe/probe/losses.h"
#include "vidprobe/probe/mean_predictor.h"
#include "vidprobe/probe/probe_model.h"

namespace vidprobe::probe {
namespace fs = std::filesystem;
using nlohmann::json;

double learning_rate_at(const TrainConfig& config, std::int64_t step) {
  const auto warmup =
      static_cast<std::int64_t>(std::llround(config.warmup_fraction * config.steps));
  if (step < warmup) return config.lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double span = static_cast<double>(std::max<std::int64_t>(1, config.steps - warmup));
  const double progress = std::clamp(static_cast<double>(step - warmup) / span, 0.0, 1.0);
  const double floor = config.lr * config.min_lr_fraction;
  return floor + (config.lr - floor) * 0.5 * (1 + std::cos(std::numbers::pi * progress));
}

std::vector<std::size_t> batch_indices(std::size_t num_clips, int batch_size, std::uint64_t seed,
                                       std::int64_t step) {
  require(num_clips > 0, "no training clips");
  std::vector<std::size_t> out;
  std::uint64_t cached_epoch = ~0ull;
  std::vector<std::size_t> permutation;
  for (int j = 0; j < batch_size; ++j) {
    const auto sample = static_cast<std::uint64_t>(step) * static_cast<std::uint64_t>(batch_size) +
                        static_cast<std::uint64_t>(j);
    const std::uint64_t epoch = sample / num_clips;
    if (epoch != cached_epoch) {
      permutation = seeded_permutation(num_clips, seed * 0x9E3779B97F4A7C15ull + epoch);
      cached_epoch = epoch;
    }
    out.push_back(permutation[sample % num_clips]);
  }
  return out;
}

namespace {

const std::vector<std::string> kLossKeys = {
    "loss",      "depth",      "depth_conf", "depth_reg", "depth_grad", "point",     "point_conf",
    "point_reg", "point_grad", "camera",     "camera_t",  "camera_r",   "camera_fov"};

bool no_decay(const std::string& name, const torch::Tensor& p) {
  return p.dim() < 2 || name.find("token") != std::string::npos ||
         name.find("empty_pose") != std::string::npos;
}

void set_learning_rate(torch::optim::AdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

std::vector<features::FeatureShard> load_shards(const ClipSource& source,
                                                const std::vector<std::size_t>& indices) {
  std::vector<features::FeatureShard> shards;
  shards.reserve(indices.size());
  for (auto i : indices) shards.push_back(source.load(i));
  return shards;
}

double validation_loss(ProbeModel& model, const ClipSource& val, const ProbeConfig& config,
                       torch::Device device) {
  torch::NoGradGuard no_grad;
  model->eval();
  double sum = 0;
  std::size_t count = 0;
  for (std::size_t start = 0; start < val.size();
       start += static_cast<std::size_t>(config.train.batch_size)) {
    std::vector<std::size_t> indices;
    for (std::size_t i = start; i < std::min(val.size(), start + config.train.batch_size); ++i)
      indices.push_back(i);
    const auto batch = make_batch(load_shards(val, indices));
    AutocastGuard autocast(device, config.train.bf16);
    const auto prediction =
        model->forward(batch.features.to(device), batch.height(), batch.width());
    const auto loss = probe_loss(prediction, batch.targets.to(device), config.loss);
    sum += loss.total.item<double>() * static_cast<double>(indices.size());
    count += indices.size();
  }
  model->train();
  return sum / static_cast<double>(std::max<std::size_t>(count, 1));
}

json geometry_json(const ClipGeometry& g) {
  return {{"frames", g.frames}, {"feature_dim", g.feature_dim}, {"grid_h", g.grid_h},
          {"grid_w", g.grid_w}, {"height", g.height},           {"width", g.width}};
}

// Keeps the rows of a log whose step is <= last_step (a resumed run rewrites what followed).
void truncate_log(const fs::path& path, std::int64_t last_step, bool csv) {
  if (!fs::exists(path)) return;
  std::istringstream in(read_file(path));
  std::string line, out;
  bool header = csv;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (header) {
      out += line + "\n";
      header = false;
      continue;
    }
    std::int64_t step = 0;
    if (csv) {
      step = std::stoll(line.substr(0, line.find(',')));
    } else {
      const auto row = json::parse(line, nullptr, false);
      if (row.is_discarded() || !row.contains("step")) continue;
      step = row["step"].get<std::int64_t>();
    }
    if (step <= last_step) out += line + "\n";
  }
  write_file_atomically(path, out);
}

std::string csv_header() {
  std::string header = "step,lr,grad_norm,steps_per_s";
  for (const auto& key : kLossKeys) header += "," + key;
  return header + ",val_loss\n";
}

std::string csv_row(const json& row) {
  std::ostringstream line;
  line.precision(8);
  line << row["step"].get<std::int64_t>() << "," << row.value("lr", 0.0) << ","
       << row.value("grad_norm", 0.0) << "," << row.value("steps_per_s", 0.0);
  for (const auto& key : kLossKeys) line << "," << row.value(key, 0.0);
  line << ",";
  if (row.contains("val_loss")) line << row["val_loss"].get<double>();
  line << "\n";
  return line.str();
}

}  // namespace

std::unique_ptr<torch::optim::AdamW> make_probe_optimizer(ProbeModel& model, const TrainConfig& t) {
  std::vector<torch::Tensor> decay, plain;
  for (const auto& p : model->named_parameters())
    (no_decay(p.key(), p.value()) ? plain : decay).push_back(p.value());
  auto options =
      torch::optim::AdamWOptions(t.lr).betas({t.beta1, t.beta2}).weight_decay(t.weight_decay);
  auto plain_options = options;
  plain_options.weight_decay(0.0);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
  groups.emplace_back(plain, std::make_unique<torch::optim::AdamWOptions>(plain_options));
  return std::make_unique<torch::optim::AdamW>(groups, options);
}

StepResult train_step(ProbeModel& model, torch::optim::AdamW& optimizer, const ProbeBatch& batch,
                      const ProbeConfig& config, torch::Device device, double lr) {
  set_learning_rate(optimizer, lr);
  optimizer.zero_grad();
  StepResult result;
  {
    AutocastGuard autocast(device, config.train.bf16);
    const auto prediction =
        model->forward(batch.features.to(device), batch.height(), batch.width());
    result.loss = probe_loss(prediction, batch.targets.to(device), config.loss);
  }
  result.loss.total.backward();
  if (config.train.grad_clip > 0)
    result.grad_norm =
        torch::nn::utils::clip_grad_norm_(model->parameters(), config.train.grad_clip);
  optimizer.step();
  return result;
}

TrainSummary train_probe(const ClipSource& train, const ClipSource& val,
                         const TrainOptions& options) {
  const auto& config = options.config;
  validate(config);
  require(!train.empty(), "no training clips");
  const auto device = parse_device(options.device);
  const auto& run_dir = options.run_dir;

  const auto first = train.load(0);
  const auto geometry = clip_geometry(first);

  // Run directory: fresh, or resumed with the same configuration.
  const auto config_path = run_dir / "config.json";
  if (options.resume) {
    require(fs::exists(config_path), "--resume: " + config_path.string() + " does not exist");
    auto stored = load_probe_config(config_path.string());
    auto given = config;
    stored.train.steps = given.train.steps;  // extending a run is allowed
    require(to_json(stored) == to_json(given),
            "--resume: the configuration differs from the run's " + config_path.string());
  } else {
    require(!fs::exists(config_path) && !fs::exists(run_dir / "checkpoints"),
            "run directory " + run_dir.string() +
                " already holds a run; pass --resume to continue it or choose another --out");
  }
  fs::create_directories(run_dir);
  write_file_atomically(config_path, to_json(config).dump(2));
  json run_info = {{"geometry", geometry_json(geometry)},
                   {"train_clips", train.ids()},
                   {"val_clips", val.ids()},
                   {"features_dir", train.cache_dir().string()},
                   {"feature_manifest", train.manifest()},
                   {"device", options.device},
                   {"vidprobe_version", VIDPROBE_VERSION}};
  write_file_atomically(run_dir / "run.json", run_info.dump(2));

  const auto baseline_path = run_dir / "baseline.safetensors";
  if (!fs::exists(baseline_path)) fit_mean_predictor(train).save(baseline_path);

  torch::manual_seed(config.train.seed);
  ProbeModel model(config, geometry.feature_dim);
  model->to(device);
  model->train();
  auto optimizer = make_probe_optimizer(model, config.train);

  std::int64_t start_step = 0;
  if (options.resume) {
    if (const auto checkpoint = latest_checkpoint(run_dir)) {
      const auto state = load_checkpoint(*checkpoint, *model, *optimizer);
      start_step = state.at("step").get<std::int64_t>();
    }
  }
  const auto log_jsonl = run_dir / "train_log.jsonl";
  const auto log_csv = run_dir / "train_log.csv";
  truncate_log(log_jsonl, start_step, false);
  truncate_log(log_csv, start_step, true);
  if (!fs::exists(log_csv)) write_file_atomically(log_csv, csv_header());
  std::ofstream jsonl(log_jsonl, std::ios::app);
  std::ofstream csv(log_csv, std::ios::app);
  require(jsonl.good() && csv.good(), "cannot write the training log in " + run_dir.string());

  const std::int64_t total_steps = config.train.steps;
  const std::int64_t end_step =
      options.stop_after_step ? std::min(total_steps, *options.stop_after_step) : total_steps;
  TrainSummary summary;
  summary.first_step = start_step;
  summary.parameters = count_parameters(*model);
  std::optional<Progress> progress;
  if (options.progress && end_step > start_step)
    progress.emplace("train", static_cast<std::size_t>(end_step - start_step), "steps");

  const auto started = std::chrono::steady_clock::now();
  auto interval_start = started;
  std::int64_t interval_steps = 0;
  auto state_json = [&](std::int64_t step) {
    return json{{"step", step}, {"seed", config.train.seed}, {"total_steps", total_steps}};
  };

  // The next batch is read and normalised on a second thread while this one trains (shard
  // reads dominate for large caches). Batches depend only on the step, so this changes nothing
  // in the results.
  auto load_batch = [&](std::int64_t step) {
    return make_batch(load_shards(
        train, batch_indices(train.size(), config.train.batch_size, config.train.seed, step)));
  };
  std::future<ProbeBatch> next_batch;
  if (start_step < end_step) next_batch = std::async(std::launch::async, load_batch, start_step);
  for (std::int64_t step = start_step; step < end_step; ++step) {
    const auto batch = next_batch.get();
    if (step + 1 < end_step) next_batch = std::async(std::launch::async, load_batch, step + 1);
    const double lr = learning_rate_at(config.train, step);
    const auto [loss, grad_norm] = train_step(model, *optimizer, batch, config, device, lr);
    require(std::isfinite(loss.terms.at("loss").item<double>()),
            "training diverged: the loss is not finite at step " + std::to_string(step) +
                " (try a lower --lr)");
    ++interval_steps;

    const std::int64_t done = step + 1;
    summary.final_loss = loss.terms.at("loss").item<double>();
    const bool last = done == end_step;
    const bool validate_now =
        !val.empty() && (done % config.train.val_every == 0 || done == total_steps);
    if (done % config.train.log_every == 0 || last || validate_now) {
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - interval_start).count();
      json row = {
          {"step", done},
          {"lr", lr},
          {"grad_norm", grad_norm},
          {"steps_per_s", seconds > 0 ? static_cast<double>(interval_steps) / seconds : 0.0}};
      for (const auto& [key, value] : loss.terms) row[key] = value.item<double>();
      if (validate_now) {
        summary.val_loss = validation_loss(model, val, config, device);
        row["val_loss"] = *summary.val_loss;
      }
      jsonl << row.dump() << "\n" << std::flush;
      csv << csv_row(row) << std::flush;
      if (options.on_log) options.on_log(row);
      interval_start = std::chrono::steady_clock::now();
      interval_steps = 0;
    }
    if (done % config.train.checkpoint_every == 0 || last)
      save_checkpoint(run_dir, done, *model, *optimizer, state_json(done),
                      config.train.keep_checkpoints);
    if (progress) {
      char note[64];
      std::snprintf(note, sizeof note, "loss %.4f", summary.final_loss);
      progress->set_note(note);
      progress->advance();
    }
  }
  if (progress) progress->finish();
  summary.last_step = std::max(start_step, end_step);
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto steps_run = summary.last_step - summary.first_step;
  summary.steps_per_second =
      summary.seconds > 0 ? static_cast<double>(steps_run) / summary.seconds : 0;
  if (summary.last_step == total_steps)
    save_weights(run_dir / "model.safetensors", *model,
                 {{"step", std::to_string(total_steps)}, {"format", "vidprobe-probe"}});
  return summary;
}

}  // namespace vidprobe::probe
