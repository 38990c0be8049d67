#pragma once
// Every knob of the probe (architecture, losses, views, optimisation) in one value type that
// round-trips through JSON. Two presets fill it (probe_preset):
//   "vidfm3d"  the paper's protocol as the authors' code runs it (zxhuang1698/VidFM3D, see
//              docs/protocol.md): ProbeModelPA (width 1024, 16 heads, 4 alternating blocks, DPT
//              256 / [256, 512, 1024, 1024], camera trunk 4 blocks x 4 iterations, PyTorch's
//              default initialisation), GT-confidence-weighted losses with prediction and GT
//              normalisation and a Huber camera loss, 4 views re-drawn every epoch (frame 0 + 3
//              views >= 5 frames apart in the first 76 frames, snapped to 4k + 1, scale from the
//              first view), AdamW 1e-4 with decay on every parameter, linear warm-up over 10 epochs
//              from 0 then cosine to 1e-6 per step, 75 epochs of batch 10, no clipping, seed 42.
//              The default of train, eval and sweep.
//   "vidprobe" vidprobe's earlier protocol: a small probe (width 384, 6 heads, DPT 128, camera
//              trunk 2 x 1), VGGT's aleatoric-confidence losses with gradient/normal terms, the
//              clip's stored frames as they are, 10,000 steps of batch 8 at lr 2e-4.
// Parsing is strict: an unknown key or an out-of-range value throws vidprobe::Error naming the
// key path (e.g. "model.num_heads").
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/data/view_sampling.h"
#include "vidprobe/nn/head_config.h"

namespace vidprobe::probe {

struct ModelConfig {
  int width = 1024;    // token width D after the linear projection of the features
  int num_blocks = 4;  // alternating blocks; each = one frame layer + one global layer
  int num_heads = 16;
  double mlp_ratio = 4.0;
  bool qk_norm = true;  // LayerNorm on queries and keys per head (VGGT)
  double layer_scale_init = 0.01;
  double rope_frequency = 100;  // 2D RoPE base over the h x w token grid; 0 = no RoPE
  int num_register_tokens = 4;
  bool input_norm = true;  // LayerNorm over the backbone channels before projecting them
  double input_norm_eps = 1e-5;
  double norm_eps = 1e-5;        // LayerNorms of the blocks (torch's default; DINOv2 uses 1e-6)
  bool global_attention = true;  // false = the frame-attention-only ablation
  // "torch_default": the layers' own initialisation (PyTorch's, as the authors' probe);
  // "trunc_normal": linear weights N(0, 0.02) cut at 2 std, zero biases (ViT / VGGT training).
  std::string init = "torch_default";
  // Training only, no effect on the numbers: keep just each trunk layer's input for the backward
  // pass and run the layer again there (the authors' gradient_checkpointing, on in their config).
  // The paper's probe at batch 10 then fits an 80 GB GPU, for one more trunk forward pass a step.
  bool gradient_checkpointing = true;
  // With gradient_checkpointing: how many blocks, from the first, run checkpointed (-1 = all).
  // The others keep their activations, trading memory for that block's second forward pass.
  int checkpoint_blocks = -1;
};

struct HeadsConfig {
  nn::DenseHeadConfig dense;
  nn::CameraHeadConfig camera;
  std::string point_activation = "inv_log";  // inv_log | linear | exp | norm_exp
  std::string depth_activation = "exp";
  std::string conf_activation = "expp1";  // expp1 | expp0 | sigmoid
};

struct RegressionLossConfig {
  double weight = 1.0;
  // Per valid pixel: clamp(gamma * c * ||pred - gt|| - alpha * log c, -100, 100), averaged; c is
  // the head's predicted confidence ("predicted", VGGT's aleatoric loss) or the GT confidence
  // ("ground_truth", the authors' probe loss: no log term then, alpha 0).
  std::string confidence = "ground_truth";
  double gamma = 1.0;
  double alpha = 0.0;
  double reg_weight = 0.0;        // plain ||pred - gt|| term, added as VGGT's training does
  std::string gradient = "none";  // grad | normal | none (spatial term, confidence-weighted)
  int gradient_scales = 3;
  // Divide prediction and GT each by their mean point norm over the valid pixels of the clip
  // first (the authors' point loss: normalize_pred and normalize_gt).
  bool normalize = false;
};

struct CameraLossConfig {
  double weight = 1.0;
  std::string type = "huber";  // l1 | huber | l2
  double huber_delta = 1.0;
  double weight_translation = 1.0, weight_rotation = 1.0, weight_fov = 0.5;
  double gamma = 0.6;  // decay over refinement iterations
};

struct LossConfig {
  RegressionLossConfig depth;
  RegressionLossConfig point{.normalize = true};
  CameraLossConfig camera;
};

struct TrainConfig {
  // Length: `epochs` passes of floor(clips / batch_size) batches (the last partial batch dropped,
  // as the authors' loader), or `steps` batches when epochs is 0.
  int epochs = 75;
  std::int64_t steps = 0;
  // Clips per process per micro-batch (the paper: 10 per GPU). A step's global batch is
  // batch_size x grad_accumulation x the job's processes; one process with grad_accumulation N
  // makes the same step as N processes (the paper's 8-GPU batch on one GPU).
  int batch_size = 10;
  int grad_accumulation = 1;
  double lr = 1e-4;
  double weight_decay = 0.05;
  bool decay_all_parameters = true;  // false: no decay on biases, norms, LayerScale and tokens
  double beta1 = 0.9, beta2 = 0.95;
  // "epoch_warmup_cosine": pl_bolts' LinearWarmupCosineAnnealingLR stepped per batch as the
  // authors configure it: lr 0 at step 0, linear warm-up over warmup_epochs epochs, cosine to the
  // absolute min_lr at the last step. "fraction_warmup_cosine": warm-up over warmup_fraction of
  // the steps from lr / warmup, cosine to lr * min_lr_fraction.
  std::string schedule = "epoch_warmup_cosine";
  double warmup_epochs = 10;
  double min_lr = 1e-6;
  double warmup_fraction = 0.05;
  double min_lr_fraction = 0.01;
  double grad_clip = 0.0;  // 0 = off
  std::uint64_t seed = 42;
  int log_every = 10;
  int checkpoint_every = 1000;
  int keep_checkpoints = 2;
  int val_every = 500;   // steps between validations when training by steps; by epochs: every epoch
  double holdout = 0.0;  // fraction of the training clips held out for validation
  // Train on this fraction of the training clips (after the holdout): the first
  // max(1, round(fraction * n)) of a seeded permutation, so a smaller fraction's clips are a subset
  // of a larger one's (the limited-data experiment).
  double train_fraction = 1.0;
  bool bf16 = true;  // bf16 autocast on CUDA (CPU always trains in fp32)
  // cuDNN autotuning of the heads' convolutions on CUDA (their shapes repeat every step). The
  // chosen algorithms differ in summation order only; the authors' runs leave it off.
  bool cudnn_benchmark = false;
};

struct ViewsConfig {
  ViewSampling sampling;  // count 0 = the clip's stored frames, as they are
  // "first_view": GT scale from the first view's points (the authors'); "all_views": from every
  // view's (VGGT's training).
  std::string normalization = "first_view";
  // Validation / evaluation views: "fixed" per (val_seed, clip position), what the authors'
  // dataset does with a truthy seed; "drift": re-drawn every validation (their runs: their
  // validation passes seed=0, which their `if self.seed:` treats as no seed).
  std::string val = "fixed";
  std::uint64_t val_seed = 0;
};

struct ProbeConfig {
  std::string preset = "vidfm3d";
  ModelConfig model;
  HeadsConfig heads;
  LossConfig loss;
  ViewsConfig views;
  TrainConfig train;
};

// The presets by name ("vidfm3d", "vidprobe"); throws vidprobe::Error listing them otherwise.
ProbeConfig probe_preset(const std::string& name);
const std::vector<std::string>& probe_preset_names();

// Throws vidprobe::Error for invalid values, naming the key.
void validate(const ProbeConfig& config);

// `train --model vggt-from-features`: VGGT-1B's trunk and heads (1024 tokens, 16 heads, MLP ratio
// 4, 4 registers, LayerNorm eps 1e-5, DPT 256 features with 256/512/1024/1024 level channels read
// from blocks 4, 11, 17, 23 at 24 blocks, camera trunk of 4 blocks with LayerScale and without
// qk-norm, 4 refinement iterations) with num_blocks alternating blocks (VGGT-1B has 24). Losses,
// views and training settings are kept from `config`.
ProbeConfig vggt_from_features_config(ProbeConfig config, int num_blocks = 4);

nlohmann::json to_json(const ProbeConfig& config);
// Starts from `base` (the "vidfm3d" preset unless given; a "preset" key in the JSON selects
// another) and overrides the keys present; unknown keys are errors.
ProbeConfig probe_config_from_json(const nlohmann::json& json);
ProbeConfig probe_config_from_json(const nlohmann::json& json, ProbeConfig base);
ProbeConfig load_probe_config(const std::string& path);
ProbeConfig load_probe_config(const std::string& path, const ProbeConfig& base);

}  // namespace vidprobe::probe
