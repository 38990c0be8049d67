#include "vidprobe/probe/trainer.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <future>
#include <sstream>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/core/output_directory.h"
#include "vidprobe/core/progress.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/probe/checkpoint.h"
#include "vidprobe/probe/fused_adamw.h"
#include "vidprobe/probe/mean_predictor.h"
#include "vidprobe/probe/paper_metrics.h"
#include "vidprobe/probe/views.h"

namespace vidprobe::probe {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

const std::vector<std::string> kLossKeys = {
    "loss",      "depth",      "depth_conf", "depth_reg", "depth_grad", "point",     "point_conf",
    "point_reg", "point_grad", "camera",     "camera_t",  "camera_r",   "camera_fov"};
// The validation columns of the CSV log (the JSON log has every paper metric).
const std::vector<std::string> kValidationKeys = {"val_loss", "val.Auc_30", "val.Auc_5",
                                                  "val.pmap_mse_aligned", "val.loss_depth"};

bool no_decay(const std::string& name, const torch::Tensor& p) {
  return p.dim() < 2 || name.find("token") != std::string::npos ||
         name.find("empty_pose") != std::string::npos;
}

// The mean of the micro-batches' loss terms (a single batch's are taken as they are, bit for bit).
void accumulate_terms(LossOutput& mean, const LossOutput& part, double share, bool only) {
  if (only) {
    mean = part;
    return;
  }
  for (const auto& [key, value] : part.terms) {
    const auto scaled = value.detach() * share;
    auto [it, inserted] = mean.terms.try_emplace(key, scaled);
    if (!inserted) it->second = it->second + scaled;
  }
  const auto total = part.total.detach() * share;
  mean.total = mean.total.defined() ? mean.total + total : total;
}

// Loss terms averaged over the job's processes (std::map: the same key order on every rank).
void average_over_ranks(const dist::Group& group, LossOutput& loss) {
  if (!group.distributed()) return;
  std::vector<torch::Tensor> values;
  for (const auto& [key, value] : loss.terms) values.push_back(value.detach().to(torch::kFloat32));
  auto stacked = torch::stack(values).to(group.device()).contiguous();
  group.all_reduce_sum(stacked);
  stacked = stacked.cpu() / static_cast<double>(group.size());
  std::size_t i = 0;
  for (auto& [key, value] : loss.terms) value = stacked[static_cast<int64_t>(i++)];
}

void set_learning_rate(torch::optim::AdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

// The clips of a batch with their views, stacked and normalised.
ProbeBatch load_batch(const ClipSource& source, const std::vector<BatchItem>& items,
                      const ViewPlan& views) {
  std::vector<features::FeatureShard> shards;
  shards.reserve(items.size());
  for (const auto& item : items) {
    const auto clip = source.load(item.clip);
    shards.push_back(with_views(clip, views.training(clip, item.clip, item.epoch)));
  }
  return make_batch(shards, views.scale_from());
}

struct ValidationResult {
  double loss = 0;
  json paper;
};

ValidationResult validate(ProbeModel& model, const ClipSource& val, const ProbeConfig& config,
                          const ViewPlan& views, torch::Device device, std::uint64_t pass) {
  torch::NoGradGuard no_grad;
  model->eval();
  ValidationResult result;
  PaperMetrics paper;
  std::size_t count = 0;
  const auto batch_size = static_cast<std::size_t>(config.train.batch_size);
  for (std::size_t start = 0; start < val.size(); start += batch_size) {
    std::vector<features::FeatureShard> shards;
    for (std::size_t i = start; i < std::min(val.size(), start + batch_size); ++i) {
      const auto clip = val.load(i);
      shards.push_back(with_views(clip, views.evaluation(clip, i, pass)));
    }
    const auto batch = make_batch(shards, views.scale_from());
    nn::GeometryPrediction prediction;
    {
      nn::AutocastGuard autocast(device, config.train.bf16);
      prediction = model->forward(batch.features.to(device), batch.height(), batch.width());
    }
    const auto loss = probe_loss(prediction, batch.targets.to(device), config.loss);
    result.loss += loss.total.item<double>() * static_cast<double>(shards.size());
    count += shards.size();
    paper.add(prediction, batch);
  }
  model->train();
  result.loss /= static_cast<double>(std::max<std::size_t>(count, 1));
  result.paper = paper.to_json();
  return result;
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
  std::string header = "step,epoch,lr,grad_norm,steps_per_s";
  for (const auto& key : kLossKeys) header += "," + key;
  for (const auto& key : kValidationKeys) header += "," + key;
  return header + "\n";
}

std::string csv_row(const json& row) {
  std::ostringstream line;
  line.precision(8);
  line << row["step"].get<std::int64_t>() << "," << row.value("epoch", 0.0) << ","
       << row.value("lr", 0.0) << "," << row.value("grad_norm", 0.0) << ","
       << row.value("steps_per_s", 0.0);
  for (const auto& key : kLossKeys) line << "," << row.value(key, 0.0);
  for (const auto& key : kValidationKeys) {
    line << ",";
    if (row.contains(key)) line << row[key].get<double>();
  }
  line << "\n";
  return line.str();
}

// How the run is spread over processes, recorded in config.json (and checked on resume).
json job_block(const TrainConfig& train, const dist::Group& group) {
  return {{"processes", group.size()},
          {"backend", group.backend_name()},
          {"batch_per_process", train.batch_size},
          {"grad_accumulation", train.grad_accumulation},
          {"global_batch", train.batch_size * train.grad_accumulation * group.size()}};
}

// A resumed run keeps its global batch: the steps, their batches and the learning rates follow
// from it. Runs written before the job block are single-process runs.
void require_same_global_batch(const fs::path& config_path, const TrainOptions& options) {
  const auto stored = read_json_file(config_path);
  const auto now = job_block(options.config.train, options.group);
  const auto before =
      stored.contains("job")
          ? json_get<std::int64_t>(stored.at("job"), "global_batch", config_path.string())
          : std::int64_t{options.config.train.batch_size} * options.config.train.grad_accumulation;
  require(before == now["global_batch"].get<std::int64_t>(),
          "--resume: the run's global batch is " + std::to_string(before) +
              " clips but this job's is " + now["global_batch"].dump() + " (" +
              std::to_string(options.group.size()) + " processes x batch " +
              std::to_string(options.config.train.batch_size) + " x grad accumulation " +
              std::to_string(options.config.train.grad_accumulation) +
              "); set --grad-accumulation so that they match");
}

// Fresh run directory, or a resumed one whose configuration matches (rank 0 only).
void prepare_run_directory(const TrainOptions& options) {
  const auto config_path = options.run_dir / "config.json";
  if (options.resume) {
    require(fs::exists(config_path), "--resume: " + config_path.string() + " does not exist");
    auto stored = load_probe_config(config_path.string(), probe_preset(options.config.preset));
    // Extending a run is allowed; so is another split of the same global batch.
    stored.train.steps = options.config.train.steps;
    stored.train.epochs = options.config.train.epochs;
    stored.train.batch_size = options.config.train.batch_size;
    stored.train.grad_accumulation = options.config.train.grad_accumulation;
    // So is trading memory for speed: checkpointing changes no number, cuDNN autotuning only
    // the convolutions' summation order.
    stored.model.gradient_checkpointing = options.config.model.gradient_checkpointing;
    stored.model.checkpoint_blocks = options.config.model.checkpoint_blocks;
    stored.train.cudnn_benchmark = options.config.train.cudnn_benchmark;
    require(to_json(stored) == to_json(options.config),
            "--resume: the configuration differs from the run's " + config_path.string());
    require_same_global_batch(config_path, options);
  } else {
    require(!fs::exists(config_path) && !fs::exists(options.run_dir / "checkpoints"),
            "run directory " + options.run_dir.string() +
                " already holds a run; pass --resume to continue it or choose another --out");
  }
  // A killed run leaves temporaries of its config, metrics and checkpoint directories.
  prepare_output_directory(options.run_dir, "train");
  prepare_output_directory(options.run_dir / "checkpoints", "train");
  auto config = to_json(options.config);
  config["job"] = job_block(options.config.train, options.group);
  write_file_atomically(config_path, config.dump(2));
}

// The step's global batch: every process's micro-batches.
TrainConfig with_global_batch(TrainConfig train, const dist::Group& group) {
  train.batch_size *= train.grad_accumulation * group.size();
  return train;
}

// The training loop's state and its steps, one method each.
class TrainingLoop {
 public:
  TrainingLoop(const ClipSource& train, const ClipSource& val, const TrainOptions& options)
      : train_(train),
        val_(val),
        options_(options),
        config_(options.config),
        views_(config_.views, config_.train.seed),
        device_(options.device),
        group_(options.group),
        global_(with_global_batch(config_.train, group_)),
        length_(train_length(global_, train.size())),
        lrs_(learning_rates(global_, length_)) {}

  TrainSummary run();

 private:
  void write_run_info(const ClipGeometry& geometry) const;
  void build_model();
  void open_logs(std::int64_t start_step);
  bool validation_due(std::int64_t done) const;
  void log_row(std::int64_t step, double lr, const StepResult& result, double steps_per_second);
  std::vector<BatchItem> items(std::int64_t step) const {
    return batch_items(train_.size(), global_.batch_size, config_.train.seed, step,
                       length_.by_epochs);
  }
  // This process's micro-batches of the step: contiguous parts of the global batch.
  std::vector<ProbeBatch> load_micro_batches(std::int64_t step) const;
  void save_outputs(std::int64_t done, std::int64_t total) const;

  const ClipSource& train_;
  const ClipSource& val_;
  const TrainOptions& options_;
  const ProbeConfig& config_;
  ViewPlan views_;
  torch::Device device_;
  dist::Group group_;
  TrainConfig global_;  // the train config with the global batch
  TrainLength length_;
  std::vector<double> lrs_;
  ProbeModel model_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<dist::GradientSync> sync_;
  std::ofstream jsonl_, csv_;
  TrainSummary summary_;
};

void TrainingLoop::write_run_info(const ClipGeometry& geometry) const {
  const json info = {{"geometry", geometry_json(geometry)},
                     {"train_clips", train_.ids()},
                     {"val_clips", val_.ids()},
                     {"steps_per_epoch", length_.steps_per_epoch},
                     {"job", job_block(config_.train, group_)},
                     {"total_steps", length_.total_steps},
                     {"features_dir", train_.cache_dir().string()},
                     {"feature_manifest", train_.manifest()},
                     {"device", options_.device.str()},
                     {"vidprobe_version", VIDPROBE_VERSION}};
  write_file_atomically(options_.run_dir / "run.json", info.dump(2));
}

void TrainingLoop::build_model() {
  const auto first = train_.load(0);
  auto geometry = clip_geometry(first);
  geometry.frames = views_.frames_per_clip(geometry.frames);
  if (group_.is_main()) {
    write_run_info(geometry);
    const auto baseline_path = options_.run_dir / "baseline.safetensors";
    if (!fs::exists(baseline_path)) fit_mean_predictor(train_, views_).save(baseline_path);
  }
  torch::manual_seed(config_.train.seed);
  model_ = ProbeModel(config_, geometry.feature_dim);
  model_->to(device_);
  model_->train();
  dist::broadcast_module(group_, *model_);
  sync_ = std::make_unique<dist::GradientSync>(group_, model_->parameters());
  optimizer_ = make_probe_optimizer(model_, config_.train);
  summary_.parameters = count_parameters(*model_);
}

void TrainingLoop::open_logs(std::int64_t start_step) {
  const auto log_jsonl = options_.run_dir / "train_log.jsonl";
  const auto log_csv = options_.run_dir / "train_log.csv";
  truncate_log(log_jsonl, start_step, false);
  truncate_log(log_csv, start_step, true);
  if (!fs::exists(log_csv)) write_file_atomically(log_csv, csv_header());
  jsonl_.open(log_jsonl, std::ios::app);
  csv_.open(log_csv, std::ios::app);
  require(jsonl_.good() && csv_.good(),
          "cannot write the training log in " + options_.run_dir.string());
}

bool TrainingLoop::validation_due(std::int64_t done) const {
  if (val_.empty()) return false;
  if (done == length_.total_steps) return true;
  return length_.by_epochs ? done % length_.steps_per_epoch == 0
                           : done % config_.train.val_every == 0;
}

void TrainingLoop::log_row(std::int64_t step, double lr, const StepResult& result,
                           double steps_per_second) {
  const std::int64_t done = step + 1;
  json row = {{"step", done},
              {"epoch", static_cast<double>(done) / static_cast<double>(length_.steps_per_epoch)},
              {"lr", lr},
              {"grad_norm", result.grad_norm},
              {"steps_per_s", steps_per_second}};
  for (const auto& [key, value] : result.loss.terms) row[key] = value.item<double>();
  if (validation_due(done)) {
    // Drifting validation views change with the validation pass (its epoch).
    const auto pass = static_cast<std::uint64_t>(done / length_.steps_per_epoch);
    const auto validation = validate(model_, val_, config_, views_, device_, pass);
    summary_.val_loss = validation.loss;
    row["val_loss"] = validation.loss;
    for (const auto& [key, value] : validation.paper.items()) row["val." + key] = value;
  }
  jsonl_ << row.dump() << "\n" << std::flush;
  csv_ << csv_row(row) << std::flush;
  if (options_.on_log) options_.on_log(row);
}

std::vector<ProbeBatch> TrainingLoop::load_micro_batches(std::int64_t step) const {
  const auto all = items(step);
  const auto micro = static_cast<std::size_t>(config_.train.batch_size);
  const auto parts = static_cast<std::size_t>(config_.train.grad_accumulation);
  const auto first = static_cast<std::size_t>(group_.rank()) * parts * micro;
  std::vector<ProbeBatch> batches;
  for (std::size_t m = 0; m < parts; ++m) {
    const auto begin = all.begin() + static_cast<std::ptrdiff_t>(first + m * micro);
    batches.push_back(
        load_batch(train_, {begin, begin + static_cast<std::ptrdiff_t>(micro)}, views_));
  }
  return batches;
}

// Rank 0 writes; the others go on to the next step's collectives, which wait for it.
void TrainingLoop::save_outputs(std::int64_t done, std::int64_t total) const {
  if (!group_.is_main()) return;
  if (done % config_.train.checkpoint_every == 0 || done == total ||
      (options_.stop_after_step && done == *options_.stop_after_step))
    save_checkpoint(options_.run_dir, done, *model_, *optimizer_,
                    {{"step", done}, {"seed", config_.train.seed}, {"total_steps", total}},
                    config_.train.keep_checkpoints);
}

TrainSummary TrainingLoop::run() {
  // Clips too short for the views fail here, before anything is written.
  views_.evaluation(train_.load(0), 0);
  dist::main_rank_first(group_, [&] {
    if (group_.is_main()) prepare_run_directory(options_);
  });
  build_model();
  group_.barrier();  // run.json and the baseline are written
  std::int64_t start_step = 0;
  if (options_.resume)
    if (const auto resumed = load_newest_good_checkpoint(options_.run_dir, *model_, *optimizer_))
      start_step = resumed->step;
  if (group_.is_main()) open_logs(start_step);

  const std::int64_t total = length_.total_steps;
  const std::int64_t end =
      options_.stop_after_step ? std::min(total, *options_.stop_after_step) : total;
  summary_.first_step = start_step;
  summary_.total_steps = total;
  std::optional<Progress> progress;
  if (options_.progress && end > start_step && group_.is_main())
    progress.emplace("train", static_cast<std::size_t>(end - start_step), "steps");

  const auto started = std::chrono::steady_clock::now();
  auto interval_start = started;
  std::int64_t interval_steps = 0;
  // The next batch is read and normalised on a second thread while this one trains. Batches
  // depend only on the step, so this changes nothing in the results.
  auto load = [&](std::int64_t step) { return load_micro_batches(step); };
  std::future<std::vector<ProbeBatch>> next;
  if (start_step < end) next = std::async(std::launch::async, load, start_step);
  for (std::int64_t step = start_step; step < end; ++step) {
    const auto batches = next.get();
    if (step + 1 < end) next = std::async(std::launch::async, load, step + 1);
    const double lr = lrs_[static_cast<std::size_t>(step)];
    auto result = train_step(model_, *optimizer_, batches, config_, device_, lr, sync_.get());
    average_over_ranks(group_, result.loss);
    summary_.final_loss = result.loss.terms.at("loss").item<double>();
    require(std::isfinite(summary_.final_loss),
            "training diverged: the loss is not finite at step " + std::to_string(step) +
                " (try a lower --lr)");
    ++interval_steps;
    const std::int64_t done = step + 1;
    if (group_.is_main() &&
        (done % config_.train.log_every == 0 || done == end || validation_due(done))) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - interval_start).count();
      log_row(step, lr, result, seconds > 0 ? static_cast<double>(interval_steps) / seconds : 0);
      interval_start = std::chrono::steady_clock::now();
      interval_steps = 0;
    }
    save_outputs(done, total);
    if (progress) {
      char note[64];
      std::snprintf(note, sizeof note, "loss %.4f", summary_.final_loss);
      progress->set_note(note);
      progress->advance();
    }
  }
  if (progress) progress->finish();
  summary_.last_step = std::max(start_step, end);
  summary_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto steps_run = summary_.last_step - summary_.first_step;
  summary_.steps_per_second =
      summary_.seconds > 0 ? static_cast<double>(steps_run) / summary_.seconds : 0;
  if (summary_.last_step == total && group_.is_main())
    save_weights(options_.run_dir / "model.safetensors", *model_,
                 {{"step", std::to_string(total)}, {"format", "vidprobe-probe"}});
  group_.barrier();  // the run directory is complete when any rank returns
  return summary_;
}

}  // namespace

std::vector<BatchItem> batch_items(std::size_t num_clips, int batch_size, std::uint64_t seed,
                                   std::int64_t step, bool by_epochs) {
  require(num_clips > 0, "no training clips");
  const auto batch = static_cast<std::uint64_t>(batch_size);
  std::vector<BatchItem> out;
  std::uint64_t cached_epoch = ~0ull;
  std::vector<std::size_t> permutation;
  for (std::uint64_t j = 0; j < batch; ++j) {
    std::uint64_t epoch = 0, position = 0;
    if (by_epochs) {
      const std::uint64_t steps_per_epoch = num_clips / batch;
      epoch = static_cast<std::uint64_t>(step) / steps_per_epoch;
      position = (static_cast<std::uint64_t>(step) % steps_per_epoch) * batch + j;
    } else {
      const auto sample = static_cast<std::uint64_t>(step) * batch + j;
      epoch = sample / num_clips;
      position = sample % num_clips;
    }
    if (epoch != cached_epoch) {
      permutation = seeded_permutation(num_clips, seed * kGolden + epoch);
      cached_epoch = epoch;
    }
    out.push_back({permutation[position], epoch});
  }
  return out;
}

std::unique_ptr<torch::optim::AdamW> make_probe_optimizer(ProbeModel& model, const TrainConfig& t) {
  auto options =
      torch::optim::AdamWOptions(t.lr).betas({t.beta1, t.beta2}).weight_decay(t.weight_decay);
  if (t.decay_all_parameters) return std::make_unique<FusedAdamW>(model->parameters(), options);
  std::vector<torch::Tensor> decay, plain;
  for (const auto& p : model->named_parameters())
    (no_decay(p.key(), p.value()) ? plain : decay).push_back(p.value());
  auto plain_options = options;
  plain_options.weight_decay(0.0);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
  groups.emplace_back(plain, std::make_unique<torch::optim::AdamWOptions>(plain_options));
  return std::make_unique<FusedAdamW>(groups, options);
}

StepResult train_step(ProbeModel& model, torch::optim::AdamW& optimizer,
                      const std::vector<ProbeBatch>& micro_batches, const ProbeConfig& config,
                      torch::Device device, double lr, dist::GradientSync* sync) {
  require(!micro_batches.empty(), "train_step: no batch");
  const nn::CudnnBenchmarkScope autotune(device, config.train.cudnn_benchmark);
  set_learning_rate(optimizer, lr);
  optimizer.zero_grad();
  StepResult result;
  const double share = 1.0 / static_cast<double>(micro_batches.size());
  for (std::size_t m = 0; m < micro_batches.size(); ++m) {
    const auto& batch = micro_batches[m];
    LossOutput loss;
    {
      nn::AutocastGuard autocast(device, config.train.bf16);
      const auto prediction =
          model->forward(batch.features.to(device), batch.height(), batch.width());
      loss = probe_loss(prediction, batch.targets.to(device), config.loss);
    }
    if (sync && m + 1 == micro_batches.size()) sync->arm();
    (micro_batches.size() == 1 ? loss.total : loss.total * share).backward();
    accumulate_terms(result.loss, loss, share, micro_batches.size() == 1);
  }
  if (sync) sync->finish();
  if (config.train.grad_clip > 0)
    result.grad_norm =
        torch::nn::utils::clip_grad_norm_(model->parameters(), config.train.grad_clip);
  optimizer.step();
  return result;
}

StepResult train_step(ProbeModel& model, torch::optim::AdamW& optimizer, const ProbeBatch& batch,
                      const ProbeConfig& config, torch::Device device, double lr) {
  return train_step(model, optimizer, std::vector<ProbeBatch>{batch}, config, device, lr);
}

TrainSummary train_probe(const ClipSource& train, const ClipSource& val,
                         const TrainOptions& options) {
  validate(options.config);
  require(!train.empty(), "no training clips");
  TrainingLoop loop(train, val, options);
  return loop.run();
}

}  // namespace vidprobe::probe
