#pragma once
// Every knob of the probe (architecture, losses, optimisation) in one value type that round-trips
// through JSON. Defaults reproduce the paper's probe where the paper states a value (4 frames,
// 4 alternating frame/global attention blocks, point/depth/camera heads, VGGT's losses) and
// VGGT's choices scaled down to a shallow probe where it is silent (see docs in the README):
//   width 384, 6 heads, MLP ratio 4, qk-norm, LayerScale 0.01, 2D RoPE (frequency 100),
//   4 register tokens, DPT heads with 128 fusion channels, camera trunk of 2 blocks,
//   AdamW (lr 2e-4, weight decay 0.05), 5% linear warm-up then cosine decay, clip norm 1.0.
// Parsing is strict: an unknown key or an out-of-range value throws vidprobe::Error naming the
// key path (e.g. "model.num_heads").
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vidprobe::probe {

struct ModelConfig {
  // "probe": the shallow probe. "vggt": the same trunk and heads with the released VGGT's
  // constants inside the layers (LayerNorm eps 1e-5, camera trunk with LayerScale and without
  // qk-norm, DPT residual units whose skip carries relu(x), DPT levels 4, 11, 17, 23 at 24 blocks):
  // VGGT trained on cached features in place of its patch embedding (`train --model
  // vggt-from-features`, vggt_from_features_config()).
  std::string kind = "probe";
  int width = 384;     // token width D after the linear projection of the features
  int num_blocks = 4;  // alternating blocks; each = one frame layer + one global layer
  int num_heads = 6;
  double mlp_ratio = 4.0;
  bool qk_norm = true;  // LayerNorm on queries and keys per head (VGGT)
  double layer_scale_init = 0.01;
  double rope_frequency = 100;  // 2D RoPE base over the h x w token grid; 0 = no RoPE
  int num_register_tokens = 4;
  bool input_norm = true;        // LayerNorm over the backbone channels before projecting them
  bool global_attention = true;  // false = the frame-attention-only ablation
};

struct DenseHeadConfig {
  int features = 128;                                // fusion width of the DPT head
  std::vector<int> out_channels{64, 128, 256, 256};  // per level, before the fusion convs
  bool pos_embed = true;                             // sinusoidal UV embedding added (VGGT's DPT)
};

struct CameraHeadConfig {
  int trunk_depth = 2;
  int iterations = 1;  // iterative refinement passes (VGGT uses 4; one suffices for a probe)
};

struct HeadsConfig {
  DenseHeadConfig dense;
  CameraHeadConfig camera;
  std::string point_activation = "inv_log";  // inv_log | linear | exp | norm_exp
  std::string depth_activation = "exp";
  std::string conf_activation = "expp1";  // expp1 | expp0 | sigmoid
};

struct RegressionLossConfig {
  double weight = 1.0;
  double gamma = 1.0;             // weight of conf * ||pred - gt||
  double alpha = 0.2;             // weight of -log(conf)
  double reg_weight = 1.0;        // plain ||pred - gt|| term, added as VGGT's training does
  std::string gradient = "grad";  // grad | normal | none (spatial term, confidence-weighted)
  int gradient_scales = 3;
};

struct CameraLossConfig {
  double weight = 5.0;
  std::string type = "l1";  // l1 | huber | l2
  double huber_delta = 1.0;
  double weight_translation = 1.0, weight_rotation = 1.0, weight_fov = 0.5;
  double gamma = 0.6;  // decay over refinement iterations
};

struct LossConfig {
  RegressionLossConfig depth;
  RegressionLossConfig point{1.0, 1.0, 0.2, 1.0, "normal", 3};
  CameraLossConfig camera;
};

struct TrainConfig {
  std::int64_t steps = 10000;
  int batch_size = 8;
  double lr = 2e-4;
  double weight_decay = 0.05;
  double beta1 = 0.9, beta2 = 0.95;
  double warmup_fraction = 0.05;
  double min_lr_fraction = 0.01;  // cosine decays to lr * this
  double grad_clip = 1.0;         // 0 = off
  std::uint64_t seed = 0;
  int log_every = 10;
  int checkpoint_every = 1000;
  int keep_checkpoints = 2;
  int val_every = 500;
  double holdout = 0.0;  // fraction of the training clips held out for validation
  // Train on this fraction of the training clips (after the holdout): the first
  // max(1, round(fraction * n)) of a seeded permutation, so a smaller fraction's clips are a subset
  // of a larger one's (the limited-data experiment).
  double train_fraction = 1.0;
  bool bf16 = true;  // bf16 autocast on CUDA (CPU always trains in fp32)
};

struct ProbeConfig {
  ModelConfig model;
  HeadsConfig heads;
  LossConfig loss;
  TrainConfig train;
};

// Throws vidprobe::Error for invalid values, naming the key.
void validate(const ProbeConfig& config);

// `train --model vggt-from-features`: model.kind "vggt" with VGGT-1B's widths (1024 tokens,
// 16 heads, MLP ratio 4, 4 registers, DPT 256 features with 256/512/1024/1024 level channels,
// camera trunk of 4 blocks, 4 refinement iterations) and num_blocks alternating blocks (VGGT-1B
// has 24). Losses and training settings are kept from `config`.
ProbeConfig vggt_from_features_config(ProbeConfig config, int num_blocks = 4);

nlohmann::json to_json(const ProbeConfig& config);
// Starts from `base` (the defaults unless given) and overrides the keys present; unknown keys are
// errors.
ProbeConfig probe_config_from_json(const nlohmann::json& json);
ProbeConfig probe_config_from_json(const nlohmann::json& json, ProbeConfig base);
ProbeConfig load_probe_config(const std::string& path);
ProbeConfig load_probe_config(const std::string& path, const ProbeConfig& base);

}  // namespace vidprobe::probe
