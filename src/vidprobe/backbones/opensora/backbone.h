#pragma once
// Open-Sora 2.0 as a vidprobe Backbone: the image tokens of a chosen MMDiT block at a chosen
// noise level, as the paper's extraction computes them (VidFM3D features/opensora,
// docs/backbones.md).
//
//  clip (T = 4k + 1, 3, H, W) in [0, 1] --Hunyuan VAE (spatially tiled), posterior sample or
//  mean x 0.476986--> x0 (1, 16, T', H/8, W/8); cond = [mask (1 at latent frame 0) | the first
//  frame encoded alone, zeros after] --> t = timestep / 1000, shifted as the sampler does:
//  alpha = (0.866667 + H'W'/4 x 2/3840) sqrt(T'), t' = alpha t / (1 + (alpha - 1) t) -->
//  x_t = (1 - t') x0 + (1 - (1 - 1e-5)(1 - t')) noise --> MMDiT with the empty prompt's T5 and
//  CLIP vectors up to layer L --> image tokens as maps (T', 3072, H/16, W/16) --> per video
//  frame: frame 0 <- latent 0, frames 4j-3..4j <- latent j.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/opensora/mmdit.h"
#include "vidprobe/backbones/opensora/text.h"
#include "vidprobe/backbones/opensora/vae.h"
#include "vidprobe/backbones/opensora/vae_decoder.h"
#include "vidprobe/backbones/registry.h"

namespace vidprobe::backbones::opensora {

// The authors' extraction point (configs/experiment/*/opensora.yaml, feat_postfix _t0.25_layer20):
// single_blocks[20], t = 0.25 before the shift.
inline constexpr int kAuthorsSingleBlock = 20;
inline constexpr int kAuthorsTimestep = 250;
inline constexpr double kSigmaMin = 1e-5;

enum class Posterior { kSample, kMean };

// `--backbone-opt key=value` settings:
//   t5, clip   the published text encoder folders (text.h); default <weights>/google/t5-v1_1-xxl
//              and <weights>/openai/clip-vit-large-patch14, the official ckpts/ layout
//   text       instead of the encoders: a safetensors file with the empty prompt's conditioning,
//              "t5" (L, 4096) T5-XXL hidden states (L = 512 as the official embedder pads) and
//              "clip" (768) the CLIP-L pooled output; <weights>/empty_prompt.safetensors is read
//              when the encoder folders are absent
//   size       input HxW (default 480x848, the authors' 640px 16:9; multiples of 16)
//   posterior  sample (default, as the official encode) or mean
//   vae_dtype  fp32 (default) | bf16 | fp16: the VAE's weights and compute (the authors: bf16,
//              as everything of theirs); the MMDiT and the text encoders use --compute-dtype
struct FeatureOptions {
  std::filesystem::path text;
  TextEncoderFolders encoders;  // empty: the layout under --weights
  int height = 480, width = 848;
  Posterior posterior = Posterior::kSample;
  torch::Dtype vae_dtype = torch::kFloat32;
};
FamilyOptions family_options();
FeatureOptions feature_options_from(const std::string& backbone,
                                    const std::map<std::string, std::string>& extra);

// The latent frame each of `video_frames` (4k + 1) frames reads: frame 0 <- latent 0, frames
// 4j - 3 .. 4j <- latent j (the causal VAE's grouping; the authors' dataset reads the same).
torch::Tensor latent_frame_indices(int64_t video_frames);

// The sampler's time shift for a latent grid (T', H', W'): get_res_lin_function at the tokens per
// frame, times sqrt(T').
double shift_alpha(int64_t frames, int64_t height, int64_t width);
// time_shift(alpha, t) computed as a (1,) tensor of `dtype`, rounding at every step as the
// authors' bf16 run does: the timestep the model is given.
torch::Tensor shifted_time(double t, double alpha, torch::Dtype dtype);

// The extraction's rectified-flow noising at the model's time ts (already shifted, in `dtype`):
// x_t = (1 - ts) x0 + (1 - (1 - kSigmaMin)(1 - ts)) noise, in `dtype` as the sampler computes it,
// returned as float32. The MMDiT predicts the velocity (1 - kSigmaMin) noise - x0 (the sampler
// steps x += (t_prev - t) v from t = 1 to 0).
torch::Tensor noised_latents(const torch::Tensor& x0, const torch::Tensor& noise,
                             const torch::Tensor& ts);
// The x0 that noised_latents at ts and that velocity imply (the exact inverse of both rules).
torch::Tensor x0_from_velocity(const torch::Tensor& x_t, const torch::Tensor& velocity,
                               const torch::Tensor& ts);

struct EncodedClip {
  torch::Tensor moments, first_moments;  // VAE moments of the clip and of its first frame alone
  int64_t video_frames = 0;
};

class OpenSoraBackbone : public Backbone {
 public:
  // decoder: only for `vidprobe check` (nullptr for features).
  OpenSoraBackbone(std::string name, Vae vae, Mmdit mmdit, TextConditioning text,
                   FeatureOptions options, VaeDecoding decoder = nullptr);
  std::string name() const override { return name_; }
  InputSpec input_spec() const override;
  int num_layers() const override { return mmdit_->config.blocks(); }
  int feature_dim() const override { return mmdit_->config.hidden_size; }
  ExtractionPoint default_point() const override;
  FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) override;
  std::vector<FeatureMaps> extract_many(const torch::Tensor& clip,
                                        const std::vector<ExtractionPoint>& points) override;
  // dtype is the MMDiT's compute dtype; the VAE keeps options.vae_dtype.
  void to(torch::Device device, torch::Dtype dtype) override;
  // The MMDiT's dtype: the sampler keeps its latents in it, as the official loop does.
  torch::Dtype compute_dtype() const { return mmdit_->img_in->weight.scalar_type(); }

  EncodedClip encode(const torch::Tensor& clip);
  // The MMDiT's inputs for a draw of noise (x0 noise, clip posterior noise, first-frame posterior
  // noise, each like the tensors they perturb; the last two unused with Posterior::kMean).
  MmditInputs model_inputs(const EncodedClip& clip, double t, const torch::Tensor& noise,
                           const torch::Tensor& clip_noise, const torch::Tensor& first_noise) const;
  // The pieces of model_inputs: x0 of the clip (posterior noise as there), the first-frame
  // condition (B, C + 1, T', h, w), and the model's time for unshifted t on a latent grid.
  torch::Tensor clip_latents(const EncodedClip& clip, const torch::Tensor& clip_noise) const;
  torch::Tensor condition(const EncodedClip& clip, const torch::Tensor& first_noise) const;
  torch::Tensor model_time(double t, const std::vector<int64_t>& latent_grid) const;
  // The whole MMDiT with the backbone's text: velocity (B, C, T', h, w), float32.
  torch::Tensor velocity(const torch::Tensor& x_t, const torch::Tensor& cond,
                         const torch::Tensor& ts);
  // Latents (B, C, T', h, w) -> the official decode, as frames (T, 3, H, W) in [0, 1]; needs
  // the decoder (load_opensora_backbone with_decoder).
  torch::Tensor decode(const torch::Tensor& latents);

 private:
  std::vector<FeatureMaps> extract_at(const EncodedClip& clip,
                                      const std::vector<ExtractionPoint>& points);
  torch::Tensor latents(const torch::Tensor& moments, const torch::Tensor& noise) const;
  std::string name_;
  Vae vae_;
  Mmdit mmdit_;
  TextConditioning text_;
  FeatureOptions options_;
  VaeDecoding decoder_;
};

std::vector<BackboneInfo> opensora_backbones();
// As make_opensora_backbone; with_decoder also loads the decoder half of hunyuan_vae.safetensors,
// strictly (random with random_init and no weights).
std::unique_ptr<OpenSoraBackbone> load_opensora_backbone(const std::string& name,
                                                         const BackboneOptions& options,
                                                         const FeatureOptions& feature_options,
                                                         bool with_decoder);
// options.weights: a directory with Open_Sora_v2.safetensors and hunyuan_vae.safetensors (the
// published files) and optionally config.json {"model": {...}, "ae": {...}} with the official
// config's fields for other sizes; with options.random_init and no weights, the registered size
// with seeded random weights and text conditioning.
std::unique_ptr<Backbone> make_opensora_backbone(const std::string& name,
                                                 const BackboneOptions& options,
                                                 const FeatureOptions& feature_options);

}  // namespace vidprobe::backbones::opensora
