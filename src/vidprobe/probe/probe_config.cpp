#include "vidprobe/probe/probe_config.h"

#include <set>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"

namespace vidprobe::probe {
namespace {

using nlohmann::json;

// Reads the members of one JSON object into fields, remembering which keys were consumed so that
// leftovers (typos, stale keys) become errors that name the full key path.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    require(object_.is_object(), "config: '" + display(path_) + "' must be a JSON object");
  }

  template <typename T>
  void read(const std::string& key, T& field) {
    seen_.insert(key);
    const auto it = object_.find(key);
    if (it == object_.end()) return;
    try {
      if constexpr (std::is_same_v<T, bool>) {
        require(it->is_boolean(), "expected true or false");
      } else if constexpr (std::is_integral_v<T>) {
        require(it->is_number_integer(), "expected an integer");
      } else if constexpr (std::is_floating_point_v<T>) {
        require(it->is_number(), "expected a number");
      } else if constexpr (std::is_same_v<T, std::string>) {
        require(it->is_string(), "expected a string");
      } else {
        require(it->is_array(), "expected an array");
      }
      field = it->get<T>();
    } catch (const std::exception& e) {
      throw Error("config: bad value for '" + key_path(key) + "': " + e.what());
    }
  }

  ObjectReader child(const std::string& key) {
    seen_.insert(key);
    const auto it = object_.find(key);
    static const json kEmpty = json::object();
    return ObjectReader(it == object_.end() ? kEmpty : *it, key_path(key));
  }

  bool has(const std::string& key) const { return object_.contains(key); }

  void finish() const {
    for (const auto& [key, value] : object_.items())
      require(seen_.count(key) > 0, "config: unknown key '" + key_path(key) + "'");
  }

 private:
  std::string key_path(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }
  static std::string display(const std::string& path) { return path.empty() ? "<root>" : path; }

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

void read_regression(ObjectReader reader, RegressionLossConfig& c) {
  reader.read("weight", c.weight);
  reader.read("gamma", c.gamma);
  reader.read("alpha", c.alpha);
  reader.read("reg_weight", c.reg_weight);
  reader.read("gradient", c.gradient);
  reader.read("gradient_scales", c.gradient_scales);
  reader.finish();
}

json regression_json(const RegressionLossConfig& c) {
  return {{"weight", c.weight},     {"gamma", c.gamma},
          {"alpha", c.alpha},       {"reg_weight", c.reg_weight},
          {"gradient", c.gradient}, {"gradient_scales", c.gradient_scales}};
}

void validate_regression(const RegressionLossConfig& c, const std::string& key) {
  check(c.weight >= 0, key + ".weight", "must be >= 0");
  check(c.gamma >= 0, key + ".gamma", "must be >= 0");
  check(c.alpha >= 0, key + ".alpha", "must be >= 0");
  check(c.reg_weight >= 0, key + ".reg_weight", "must be >= 0");
  check_one_of(c.gradient, {"grad", "normal", "none"}, key + ".gradient");
  check(c.gradient_scales >= 1 && c.gradient_scales <= 8, key + ".gradient_scales",
        "must be in 1..8");
}

}  // namespace

void validate(const ProbeConfig& config) {
  const auto& m = config.model;
  check_one_of(m.kind, {"probe", "vggt"}, "model.kind");
  check(m.width >= 8, "model.width", "must be >= 8");
  check(m.num_heads >= 1, "model.num_heads", "must be >= 1");
  check(m.width % m.num_heads == 0, "model.num_heads", "must divide model.width");
  // 2D RoPE splits each head's channels into y and x halves of rotation pairs.
  check(m.rope_frequency == 0 || (m.width / m.num_heads) % 4 == 0, "model.num_heads",
        "must leave a head width divisible by 4 when RoPE is on");
  check(m.num_blocks >= 1 && m.num_blocks <= 64, "model.num_blocks", "must be in 1..64");
  check(m.mlp_ratio > 0, "model.mlp_ratio", "must be > 0");
  check(m.layer_scale_init >= 0, "model.layer_scale_init", "must be >= 0 (0 = no LayerScale)");
  check(m.rope_frequency >= 0, "model.rope_frequency", "must be >= 0 (0 = no RoPE)");
  check(m.num_register_tokens >= 0, "model.num_register_tokens", "must be >= 0");

  const auto& h = config.heads;
  check(h.dense.features >= 4 && h.dense.features % 2 == 0, "heads.dense.features",
        "must be an even number >= 4");
  check(h.dense.out_channels.size() == 4, "heads.dense.out_channels", "must list 4 channel counts");
  for (int c : h.dense.out_channels) check(c >= 1, "heads.dense.out_channels", "must be positive");
  check(h.camera.trunk_depth >= 0, "heads.camera.trunk_depth", "must be >= 0");
  check(h.camera.iterations >= 1, "heads.camera.iterations", "must be >= 1");
  check_one_of(h.point_activation, {"inv_log", "linear", "exp", "norm_exp"},
               "heads.point_activation");
  check_one_of(h.depth_activation, {"inv_log", "linear", "exp", "norm_exp"},
               "heads.depth_activation");
  check_one_of(h.conf_activation, {"expp1", "expp0", "sigmoid"}, "heads.conf_activation");

  validate_regression(config.loss.depth, "loss.depth");
  validate_regression(config.loss.point, "loss.point");
  const auto& c = config.loss.camera;
  check(c.weight >= 0, "loss.camera.weight", "must be >= 0");
  check_one_of(c.type, {"l1", "huber", "l2"}, "loss.camera.type");
  check(c.huber_delta > 0, "loss.camera.huber_delta", "must be > 0");
  check(c.gamma > 0, "loss.camera.gamma", "must be > 0");

  const auto& t = config.train;
  check(t.steps >= 1, "train.steps", "must be >= 1");
  check(t.batch_size >= 1, "train.batch_size", "must be >= 1");
  check(t.lr > 0, "train.lr", "must be > 0");
  check(t.weight_decay >= 0, "train.weight_decay", "must be >= 0");
  check(t.beta1 >= 0 && t.beta1 < 1, "train.beta1", "must be in [0, 1)");
  check(t.beta2 >= 0 && t.beta2 < 1, "train.beta2", "must be in [0, 1)");
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

nlohmann::json to_json(const ProbeConfig& config) {
  const auto& m = config.model;
  const auto& h = config.heads;
  const auto& c = config.loss.camera;
  const auto& t = config.train;
  return {
      {"model",
       {{"kind", m.kind},
        {"width", m.width},
        {"num_blocks", m.num_blocks},
        {"num_heads", m.num_heads},
        {"mlp_ratio", m.mlp_ratio},
        {"qk_norm", m.qk_norm},
        {"layer_scale_init", m.layer_scale_init},
        {"rope_frequency", m.rope_frequency},
        {"num_register_tokens", m.num_register_tokens},
        {"input_norm", m.input_norm},
        {"global_attention", m.global_attention}}},
      {"heads",
       {{"dense",
         {{"features", h.dense.features},
          {"out_channels", h.dense.out_channels},
          {"pos_embed", h.dense.pos_embed}}},
        {"camera", {{"trunk_depth", h.camera.trunk_depth}, {"iterations", h.camera.iterations}}},
        {"point_activation", h.point_activation},
        {"depth_activation", h.depth_activation},
        {"conf_activation", h.conf_activation}}},
      {"loss",
       {{"depth", regression_json(config.loss.depth)},
        {"point", regression_json(config.loss.point)},
        {"camera",
         {{"weight", c.weight},
          {"type", c.type},
          {"huber_delta", c.huber_delta},
          {"weight_translation", c.weight_translation},
          {"weight_rotation", c.weight_rotation},
          {"weight_fov", c.weight_fov},
          {"gamma", c.gamma}}}}},
      {"train",
       {{"steps", t.steps},
        {"batch_size", t.batch_size},
        {"lr", t.lr},
        {"weight_decay", t.weight_decay},
        {"beta1", t.beta1},
        {"beta2", t.beta2},
        {"warmup_fraction", t.warmup_fraction},
        {"min_lr_fraction", t.min_lr_fraction},
        {"grad_clip", t.grad_clip},
        {"seed", t.seed},
        {"log_every", t.log_every},
        {"checkpoint_every", t.checkpoint_every},
        {"keep_checkpoints", t.keep_checkpoints},
        {"val_every", t.val_every},
        {"holdout", t.holdout},
        {"train_fraction", t.train_fraction},
        {"bf16", t.bf16}}},
  };
}

ProbeConfig probe_config_from_json(const nlohmann::json& json) {
  return probe_config_from_json(json, ProbeConfig{});
}

ProbeConfig probe_config_from_json(const nlohmann::json& json, ProbeConfig config) {
  ObjectReader root(json, "");
  {
    auto r = root.child("model");
    auto& m = config.model;
    r.read("width", m.width);
    r.read("num_blocks", m.num_blocks);
    r.read("num_heads", m.num_heads);
    r.read("mlp_ratio", m.mlp_ratio);
    r.read("qk_norm", m.qk_norm);
    r.read("layer_scale_init", m.layer_scale_init);
    r.read("rope_frequency", m.rope_frequency);
    r.read("num_register_tokens", m.num_register_tokens);
    r.read("kind", m.kind);
    r.read("input_norm", m.input_norm);
    r.read("global_attention", m.global_attention);
    r.finish();
  }
  {
    auto r = root.child("heads");
    auto& h = config.heads;
    auto dense = r.child("dense");
    dense.read("features", h.dense.features);
    dense.read("out_channels", h.dense.out_channels);
    dense.read("pos_embed", h.dense.pos_embed);
    dense.finish();
    auto camera = r.child("camera");
    camera.read("trunk_depth", h.camera.trunk_depth);
    camera.read("iterations", h.camera.iterations);
    camera.finish();
    r.read("point_activation", h.point_activation);
    r.read("depth_activation", h.depth_activation);
    r.read("conf_activation", h.conf_activation);
    r.finish();
  }
  {
    auto r = root.child("loss");
    read_regression(r.child("depth"), config.loss.depth);
    read_regression(r.child("point"), config.loss.point);
    auto camera = r.child("camera");
    auto& c = config.loss.camera;
    camera.read("weight", c.weight);
    camera.read("type", c.type);
    camera.read("huber_delta", c.huber_delta);
    camera.read("weight_translation", c.weight_translation);
    camera.read("weight_rotation", c.weight_rotation);
    camera.read("weight_fov", c.weight_fov);
    camera.read("gamma", c.gamma);
    camera.finish();
    r.finish();
  }
  {
    auto r = root.child("train");
    auto& t = config.train;
    r.read("steps", t.steps);
    r.read("batch_size", t.batch_size);
    r.read("lr", t.lr);
    r.read("weight_decay", t.weight_decay);
    r.read("beta1", t.beta1);
    r.read("beta2", t.beta2);
    r.read("warmup_fraction", t.warmup_fraction);
    r.read("min_lr_fraction", t.min_lr_fraction);
    r.read("grad_clip", t.grad_clip);
    r.read("seed", t.seed);
    r.read("log_every", t.log_every);
    r.read("checkpoint_every", t.checkpoint_every);
    r.read("keep_checkpoints", t.keep_checkpoints);
    r.read("val_every", t.val_every);
    r.read("holdout", t.holdout);
    r.read("train_fraction", t.train_fraction);
    r.read("bf16", t.bf16);
    r.finish();
  }
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
    json = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error("config file '" + path + "' is not valid JSON: " + e.what());
  }
  try {
    return probe_config_from_json(json, base);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

ProbeConfig vggt_from_features_config(ProbeConfig config, int num_blocks) {
  auto& m = config.model;
  m.kind = "vggt";
  m.width = 1024;
  m.num_blocks = num_blocks;
  m.num_heads = 16;
  m.mlp_ratio = 4.0;
  m.qk_norm = true;
  m.layer_scale_init = 0.01;
  m.rope_frequency = 100;
  m.num_register_tokens = 4;
  auto& h = config.heads;
  h.dense.features = 256;
  h.dense.out_channels = {256, 512, 1024, 1024};
  h.dense.pos_embed = true;
  h.camera.trunk_depth = 4;
  h.camera.iterations = 4;
  h.point_activation = "inv_log";
  h.depth_activation = "exp";
  h.conf_activation = "expp1";
  validate(config);
  return config;
}

}  // namespace vidprobe::probe
