#include "vidprobe/probe/probe_config.h"

#include <algorithm>
#include <concepts>
#include <limits>
#include <set>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/io/gzip.h"

namespace vidprobe::probe {
namespace {

using nlohmann::json;

// ---- the field tables: every field's JSON name written once, for both directions ----

template <typename T, typename U>
concept SameOrConst = std::same_as<std::remove_const_t<T>, U>;

void visit(SameOrConst<ModelConfig> auto& m, auto& v) {
  v("width", m.width);
  v("num_blocks", m.num_blocks);
  v("num_heads", m.num_heads);
  v("mlp_ratio", m.mlp_ratio);
  v("qk_norm", m.qk_norm);
  v("layer_scale_init", m.layer_scale_init);
  v("rope_frequency", m.rope_frequency);
  v("num_register_tokens", m.num_register_tokens);
  v("input_norm", m.input_norm);
  v("input_norm_eps", m.input_norm_eps);
  v("norm_eps", m.norm_eps);
  v("global_attention", m.global_attention);
  v("init", m.init);
  v("gradient_checkpointing", m.gradient_checkpointing);
  v("checkpoint_blocks", m.checkpoint_blocks);
}

void visit(SameOrConst<nn::DenseHeadConfig> auto& d, auto& v) {
  v("features", d.features);
  v("out_channels", d.out_channels);
  v("pos_embed", d.pos_embed);
  v("layers", d.layers);
  v("relu_skip", d.relu_skip);
}

void visit(SameOrConst<nn::CameraHeadConfig> auto& c, auto& v) {
  v("trunk_depth", c.trunk_depth);
  v("iterations", c.iterations);
  v("qk_norm", c.qk_norm);
  v("layer_scale_init", c.layer_scale_init);
  v("norm_eps", c.norm_eps);
}

void visit(SameOrConst<HeadsConfig> auto& h, auto& v) {
  v.object("dense", [&](auto& c) { visit(h.dense, c); });
  v.object("camera", [&](auto& c) { visit(h.camera, c); });
  v("point_activation", h.point_activation);
  v("depth_activation", h.depth_activation);
  v("conf_activation", h.conf_activation);
}

void visit(SameOrConst<RegressionLossConfig> auto& r, auto& v) {
  v("weight", r.weight);
  v("confidence", r.confidence);
  v("gamma", r.gamma);
  v("alpha", r.alpha);
  v("reg_weight", r.reg_weight);
  v("gradient", r.gradient);
  v("gradient_scales", r.gradient_scales);
  v("normalize", r.normalize);
}

void visit(SameOrConst<CameraLossConfig> auto& c, auto& v) {
  v("weight", c.weight);
  v("type", c.type);
  v("huber_delta", c.huber_delta);
  v("weight_translation", c.weight_translation);
  v("weight_rotation", c.weight_rotation);
  v("weight_fov", c.weight_fov);
  v("gamma", c.gamma);
}

void visit(SameOrConst<LossConfig> auto& l, auto& v) {
  v.object("depth", [&](auto& c) { visit(l.depth, c); });
  v.object("point", [&](auto& c) { visit(l.point, c); });
  v.object("camera", [&](auto& c) { visit(l.camera, c); });
}

void visit(SameOrConst<ViewsConfig> auto& w, auto& v) {
  v("count", w.sampling.count);
  v("min_gap", w.sampling.min_gap);
  v("context", w.sampling.context);
  v("snap", w.sampling.snap);
  v("normalization", w.normalization);
  v("val", w.val);
  v("val_seed", w.val_seed);
}

void visit(SameOrConst<TrainConfig> auto& t, auto& v) {
  v("epochs", t.epochs);
  v("steps", t.steps);
  v("batch_size", t.batch_size);
  v("grad_accumulation", t.grad_accumulation);
  v("lr", t.lr);
  v("weight_decay", t.weight_decay);
  v("decay_all_parameters", t.decay_all_parameters);
  v("beta1", t.beta1);
  v("beta2", t.beta2);
  v("schedule", t.schedule);
  v("warmup_epochs", t.warmup_epochs);
  v("min_lr", t.min_lr);
  v("warmup_fraction", t.warmup_fraction);
  v("min_lr_fraction", t.min_lr_fraction);
  v("grad_clip", t.grad_clip);
  v("seed", t.seed);
  v("log_every", t.log_every);
  v("checkpoint_every", t.checkpoint_every);
  v("keep_checkpoints", t.keep_checkpoints);
  v("val_every", t.val_every);
  v("holdout", t.holdout);
  v("train_fraction", t.train_fraction);
  v("bf16", t.bf16);
  v("cudnn_benchmark", t.cudnn_benchmark);
}

void visit(SameOrConst<ProbeConfig> auto& p, auto& v) {
  v.object("model", [&](auto& c) { visit(p.model, c); });
  v.object("heads", [&](auto& c) { visit(p.heads, c); });
  v.object("loss", [&](auto& c) { visit(p.loss, c); });
  v.object("views", [&](auto& c) { visit(p.views, c); });
  v.object("train", [&](auto& c) { visit(p.train, c); });
}

// Writes the visited fields into a JSON object.
class JsonWriter {
 public:
  template <typename T>
  void operator()(const char* key, const T& field) {
    out[key] = field;
  }
  template <typename F>
  void object(const char* key, F&& fill) {
    JsonWriter child;
    fill(child);
    out[key] = std::move(child.out);
  }
  json out = json::object();
};

// Reads the visited fields from a JSON object, remembering which keys were consumed so that
// leftovers (typos, stale keys) become errors that name the full key path.
class JsonReader {
 public:
  JsonReader(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    require(object_.is_object(), "config: '" + display() + "' must be a JSON object");
  }

  template <typename T>
  void operator()(const std::string& key, T& field) {
    seen_.insert(key);
    const auto it = object_.find(key);
    if (it == object_.end()) return;
    field = json_as<T>(*it, "config: bad value for '" + key_path(key) + "'");
  }

  template <typename F>
  void object(const std::string& key, F&& fill) {
    seen_.insert(key);
    const auto it = object_.find(key);
    static const json kEmpty = json::object();
    JsonReader child(it == object_.end() ? kEmpty : *it, key_path(key));
    fill(child);
    child.finish();
  }

  void finish() const {
    for (const auto& [key, value] : object_.items())
      require(seen_.count(key) > 0, "config: unknown key '" + key_path(key) + "'");
  }

 private:
  std::string key_path(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }
  std::string display() const { return path_.empty() ? "<root>" : path_; }

  const json& object_;
  std::string path_;
  std::set<std::string> seen_;
};

void check(bool ok, const std::string& key, const std::string& what) {
  require(ok, "config: '" + key + "' " + what);
}

void check_one_of(const std::string& value, std::initializer_list<const char*> choices,
                  const std::string& key) {
  std::string list;
  for (const char* choice : choices) {
    if (value == choice) return;
    list += (list.empty() ? "" : ", ") + std::string(choice);
  }
  throw Error("config: '" + key + "' is '" + value + "', expected one of: " + list);
}

void validate_regression(const RegressionLossConfig& c, const std::string& key) {
  check(c.weight >= 0, key + ".weight", "must be >= 0");
  check_one_of(c.confidence, {"predicted", "ground_truth"}, key + ".confidence");
  check(c.gamma >= 0, key + ".gamma", "must be >= 0");
  check(c.alpha >= 0, key + ".alpha", "must be >= 0");
  check(c.confidence == "predicted" || c.alpha == 0, key + ".alpha",
        "must be 0 with ground_truth confidence (log c of the GT would be a constant)");
  check(c.reg_weight >= 0, key + ".reg_weight", "must be >= 0");
  check_one_of(c.gradient, {"grad", "normal", "none"}, key + ".gradient");
  check(c.gradient_scales >= 1 && c.gradient_scales <= 8, key + ".gradient_scales",
        "must be in 1..8");
}

void validate_model(const ModelConfig& m) {
  check(m.width >= 8, "model.width", "must be >= 8");
  check(m.num_heads >= 1, "model.num_heads", "must be >= 1");
  check(m.width % m.num_heads == 0, "model.num_heads", "must divide model.width");
  // 2D RoPE splits each head's channels into y and x halves of rotation pairs.
  check(m.rope_frequency == 0 || (m.width / m.num_heads) % 4 == 0, "model.num_heads",
        "must leave a head width divisible by 4 when RoPE is on");
  check(m.num_blocks >= 1 && m.num_blocks <= 64, "model.num_blocks", "must be in 1..64");
  check(m.checkpoint_blocks >= -1 && m.checkpoint_blocks <= m.num_blocks, "model.checkpoint_blocks",
        "must be -1 (all) or in 0..model.num_blocks");
  check(m.mlp_ratio > 0, "model.mlp_ratio", "must be > 0");
  check(m.layer_scale_init >= 0, "model.layer_scale_init", "must be >= 0 (0 = no LayerScale)");
  check(m.rope_frequency >= 0, "model.rope_frequency", "must be >= 0 (0 = no RoPE)");
  check(m.num_register_tokens >= 0, "model.num_register_tokens", "must be >= 0");
  check(m.input_norm_eps > 0 && m.norm_eps > 0, "model.norm_eps", "and input_norm_eps must be > 0");
  check_one_of(m.init, {"torch_default", "trunc_normal"}, "model.init");
}

void validate_heads(const HeadsConfig& h, int num_blocks) {
  check(h.dense.features >= 4 && h.dense.features % 2 == 0, "heads.dense.features",
        "must be an even number >= 4");
  check(h.dense.out_channels.size() == 4, "heads.dense.out_channels", "must list 4 channel counts");
  for (int c : h.dense.out_channels) check(c >= 1, "heads.dense.out_channels", "must be positive");
  check(h.dense.layers.empty() || h.dense.layers.size() == 4, "heads.dense.layers",
        "must list 4 block indices (or none: evenly spread)");
  for (int l : h.dense.layers)
    check(l >= 0 && l < num_blocks, "heads.dense.layers",
          "must index the model's blocks 0.." + std::to_string(num_blocks - 1));
  check(h.camera.trunk_depth >= 0, "heads.camera.trunk_depth", "must be >= 0");
  check(h.camera.iterations >= 1, "heads.camera.iterations", "must be >= 1");
  check(h.camera.layer_scale_init >= 0, "heads.camera.layer_scale_init", "must be >= 0");
  check(h.camera.norm_eps > 0, "heads.camera.norm_eps", "must be > 0");
  check_one_of(h.point_activation, {"inv_log", "linear", "exp", "norm_exp"},
               "heads.point_activation");
  check_one_of(h.depth_activation, {"inv_log", "linear", "exp", "norm_exp"},
               "heads.depth_activation");
  check_one_of(h.conf_activation, {"expp1", "expp0", "sigmoid"}, "heads.conf_activation");
}

void validate_train(const TrainConfig& t) {
  check(t.epochs >= 0, "train.epochs", "must be >= 0");
  check(t.steps >= 0, "train.steps", "must be >= 0");
  // Larger counts are typos or overflows: the step schedule would not fit in memory.
  check(t.steps <= 1'000'000'000, "train.steps", "must be at most 10^9");
  check(t.epochs <= 1'000'000, "train.epochs", "must be at most 10^6");
  check((t.epochs > 0) != (t.steps > 0), "train.epochs",
        "or train.steps must be set, not both (got epochs " + std::to_string(t.epochs) +
            ", steps " + std::to_string(t.steps) + ")");
  check(t.batch_size >= 1, "train.batch_size", "must be >= 1");
  check(t.grad_accumulation >= 1, "train.grad_accumulation", "must be >= 1");
  check(t.lr > 0, "train.lr", "must be > 0");
  check(t.lr <= 1000, "train.lr", "must be at most 1000 (the optimiser keeps it as a float)");
  check(t.weight_decay >= 0, "train.weight_decay", "must be >= 0");
  check(t.beta1 >= 0 && t.beta1 < 1, "train.beta1", "must be in [0, 1)");
  check(t.beta2 >= 0 && t.beta2 < 1, "train.beta2", "must be in [0, 1)");
  check_one_of(t.schedule, {"epoch_warmup_cosine", "fraction_warmup_cosine"}, "train.schedule");
  check(t.warmup_epochs >= 0, "train.warmup_epochs", "must be >= 0");
  check(t.min_lr >= 0 && t.min_lr <= t.lr, "train.min_lr", "must be in [0, train.lr]");
  check(t.warmup_fraction >= 0 && t.warmup_fraction <= 1, "train.warmup_fraction",
        "must be in [0, 1]");
  check(t.min_lr_fraction >= 0 && t.min_lr_fraction <= 1, "train.min_lr_fraction",
        "must be in [0, 1]");
  check(t.grad_clip >= 0, "train.grad_clip", "must be >= 0 (0 = off)");
  check(t.log_every >= 1, "train.log_every", "must be >= 1");
  check(t.checkpoint_every >= 1, "train.checkpoint_every", "must be >= 1");
  check(t.keep_checkpoints >= 1, "train.keep_checkpoints", "must be >= 1");
  check(t.val_every >= 1, "train.val_every", "must be >= 1");
  check(t.holdout >= 0 && t.holdout < 1, "train.holdout", "must be in [0, 1)");
  check(t.train_fraction > 0 && t.train_fraction <= 1, "train.train_fraction", "must be in (0, 1]");
}

void validate_views(const ViewsConfig& v) {
  try {
    validate(v.sampling);
  } catch (const Error& e) {
    throw Error(std::string("config: ") + e.what());
  }
  check_one_of(v.normalization, {"first_view", "all_views"}, "views.normalization");
  check_one_of(v.val, {"fixed", "drift"}, "views.val");
}

// ---- presets ----

ProbeConfig vidfm3d_preset() {
  return ProbeConfig{};
}  // the defaults are the paper's protocol

ProbeConfig vidprobe_preset() {
  ProbeConfig c;
  c.preset = "vidprobe";
  auto& m = c.model;
  m.width = 384;
  m.num_heads = 6;
  m.input_norm_eps = 1e-6;
  m.norm_eps = 1e-6;
  m.init = "trunc_normal";
  m.gradient_checkpointing = false;  // a small probe: its activations fit
  auto& h = c.heads;
  h.dense = {.features = 128, .out_channels = {64, 128, 256, 256}, .relu_skip = false};
  h.camera = {
      .trunk_depth = 2, .iterations = 1, .qk_norm = true, .layer_scale_init = 0, .norm_eps = 1e-6};
  c.loss.depth = {.confidence = "predicted", .alpha = 0.2, .reg_weight = 1.0, .gradient = "grad"};
  c.loss.point = {.confidence = "predicted", .alpha = 0.2, .reg_weight = 1.0, .gradient = "normal"};
  c.loss.camera = {.weight = 5.0, .type = "l1"};
  c.views = {.sampling = {.count = 0}, .normalization = "all_views"};
  auto& t = c.train;
  t.epochs = 0;
  t.steps = 10000;
  t.batch_size = 8;
  t.lr = 2e-4;
  t.decay_all_parameters = false;
  t.schedule = "fraction_warmup_cosine";
  t.grad_clip = 1.0;
  t.seed = 0;
  return c;
}

}  // namespace

const std::vector<std::string>& probe_preset_names() {
  static const std::vector<std::string> names{"vidfm3d", "vidprobe"};
  return names;
}

ProbeConfig probe_preset(const std::string& name) {
  if (name == "vidfm3d") return vidfm3d_preset();
  if (name == "vidprobe") return vidprobe_preset();
  throw Error("unknown probe preset '" + name + "'; the presets are: vidfm3d, vidprobe");
}

void validate(const ProbeConfig& config) {
  check(std::find(probe_preset_names().begin(), probe_preset_names().end(), config.preset) !=
            probe_preset_names().end(),
        "preset", "must be vidfm3d or vidprobe, got '" + config.preset + "'");
  validate_model(config.model);
  validate_heads(config.heads, config.model.num_blocks);
  validate_regression(config.loss.depth, "loss.depth");
  validate_regression(config.loss.point, "loss.point");
  const auto& c = config.loss.camera;
  check(c.weight >= 0, "loss.camera.weight", "must be >= 0");
  check_one_of(c.type, {"l1", "huber", "l2"}, "loss.camera.type");
  check(c.huber_delta > 0, "loss.camera.huber_delta", "must be > 0");
  check(c.gamma > 0, "loss.camera.gamma", "must be > 0");
  validate_views(config.views);
  validate_train(config.train);
}

nlohmann::json to_json(const ProbeConfig& config) {
  JsonWriter writer;
  writer("preset", config.preset);
  visit(config, writer);
  return writer.out;
}

ProbeConfig probe_config_from_json(const nlohmann::json& json) {
  return probe_config_from_json(json, ProbeConfig{});
}

ProbeConfig probe_config_from_json(const nlohmann::json& json, ProbeConfig config) {
  JsonReader root(json, "");
  if (json.is_object() && json.contains("preset")) {
    std::string preset;
    root("preset", preset);
    require(preset == config.preset, "config: 'preset' is '" + preset +
                                         "' but the configuration starts from preset '" +
                                         config.preset + "' (choose one with --preset)");
  }
  visit(config, root);
  root.finish();
  validate(config);
  return config;
}

ProbeConfig load_probe_config(const std::string& path) {
  return load_probe_config(path, ProbeConfig{});
}

ProbeConfig load_probe_config(const std::string& path, const ProbeConfig& base) {
  nlohmann::json json;
  try {
    json = read_json_file(path);
  } catch (const nlohmann::json::exception& e) {
    throw Error("config file '" + path + "' is not valid JSON: " + e.what());
  }
  // A run's config.json also says how the job was spread over processes ("job", written by train);
  // that describes the run, not the probe.
  if (json.is_object()) json.erase("job");
  try {
    return probe_config_from_json(json, base);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

ProbeConfig vggt_from_features_config(ProbeConfig config, int num_blocks) {
  auto& m = config.model;
  m.width = 1024;
  m.num_blocks = num_blocks;
  m.num_heads = 16;
  m.mlp_ratio = 4.0;
  m.qk_norm = true;
  m.layer_scale_init = 0.01;
  m.rope_frequency = 100;
  m.num_register_tokens = 4;
  m.norm_eps = 1e-5;  // VGGT: torch's LayerNorm default
  auto& h = config.heads;
  h.dense.features = 256;
  h.dense.out_channels = {256, 512, 1024, 1024};
  h.dense.pos_embed = true;
  h.dense.relu_skip = true;
  h.dense.layers = num_blocks == 24 ? std::vector<int>{4, 11, 17, 23} : std::vector<int>{};
  h.camera = {.trunk_depth = 4,
              .iterations = 4,
              .qk_norm = false,
              .layer_scale_init = 0.01,
              .norm_eps = 1e-5};
  h.point_activation = "inv_log";
  h.depth_activation = "exp";
  h.conf_activation = "expp1";
  validate(config);
  return config;
}

}  // namespace vidprobe::probe
