#pragma once
// CogVideoX 1.0 (2B, 5B, 5B-I2V) as a vidprobe Backbone: the video hidden states of a chosen
// expert-transformer block at a chosen timestep, as the paper's extraction computes them
// (docs/cogvideox.md).
//
//  clip (T = 4k + 1, 3, H, W) in [0, 1] --VAE posterior mean x scaling_factor--> latents
//  (1, 1 + k, 16, H/8, W/8) --DDIM add_noise at timestep t (alphas_cumprod), seeded noise-->
//  [I2V: concatenated along channels with the first frame's image latents, zero-padded in time]
//  --> transformer with the text context up to block `layer` --> video tokens as maps
//  (1 + k, dim, H/16, W/16) --> per video frame: frame 0 <- latent 0, frames 4j-3..4j <- latent j.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/cogvideox/config.h"
#include "vidprobe/backbones/cogvideox/schedule.h"
#include "vidprobe/backbones/cogvideox/transformer.h"
#include "vidprobe/backbones/cogvideox/vae.h"
#include "vidprobe/backbones/registry.h"

namespace vidprobe::backbones::cogvideox {

// The authors' extraction point (configs/experiment/*/cogvideox.yaml, feat_postfix _t749_layer20):
// block 20 and index 749 of the scheduler's 1000 trailing timesteps, i.e. timestep 250.
inline constexpr int kAuthorsLayer = 20;
inline constexpr int kAuthorsSchedulerSteps = 1000;
inline constexpr int kAuthorsSchedulerIndex = 749;

// The registry entry sized by the model directory's transformer/config.json (other sizes,
// fine-tunes, the test fixtures); "cogvideox-2b" etc. check the directory against their size.
inline constexpr const char* kSizedByConfigName = "cogvideox";

// How the I2V image latents are taken from the first frame's VAE posterior: the pipeline draws a
// sample (latent_dist.sample(), unseeded in the authors' code); the mean is the noise-free choice.
enum class ImageLatents { kSample, kMean };

// `--backbone-opt key=value` settings:
//   text_context   safetensors file with the T5 prompt embeddings (max_text_tokens x 4096, e.g.
//                  226 rows: the pipeline's padded prompt, pad positions included); without it
//                  the empty prompt (the authors') goes through the directory's text_encoder/
//   size           input HxW (default 480x720, the trained size; multiples of 16)
//   image_latents  sample (default, as the pipeline) or mean: the I2V first-frame latents
struct FeatureOptions {
  std::filesystem::path text_context;
  int height = 480, width = 720;
  ImageLatents image_latents = ImageLatents::kSample;
};
FamilyOptions family_options();
// Throws vidprobe::Error naming the key and value at fault.
FeatureOptions feature_options_from(const std::string& backbone,
                                    const std::map<std::string, std::string>& extra);

// The latent frame holding video frame t (0 -> 0; 4j-3..4j -> j for temporal compression 4).
int64_t latent_frame_of(int64_t video_frame, int temporal_compression);
// (video_frames) int64: latent_frame_of for every frame.
torch::Tensor latent_frame_indices(int64_t video_frames, int temporal_compression);

// A clip through the VAE, shared by every extraction point.
struct EncodedClip {
  torch::Tensor latents;        // (1, F', C, h, w) posterior mean x scaling_factor, float32
  torch::Tensor image_moments;  // I2V: (1, 2C, 1, h, w) the first frame's [mean | logvar]
  int64_t video_frames = 0;
};

class CogVideoXBackbone : public Backbone {
 public:
  // context: (1, max_text_tokens, text_embed_dim) prompt embeddings as the pipeline computes them.
  CogVideoXBackbone(std::string name, Vae vae, Transformer transformer, ScheduleConfig schedule,
                    torch::Tensor context, FeatureOptions options);

  std::string name() const override { return name_; }
  InputSpec input_spec() const override;
  int num_layers() const override { return transformer_->config.layers; }
  int feature_dim() const override { return transformer_->config.dim(); }
  // Block kAuthorsLayer (or the middle one of a shallower model) at the authors' timestep.
  ExtractionPoint default_point() const override;
  FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) override;
  std::vector<FeatureMaps> extract_many(const torch::Tensor& clip,
                                        const std::vector<ExtractionPoint>& points) override;
  // The VAE stays float32; dtype is the transformer's compute dtype.
  void to(torch::Device device, torch::Dtype dtype) override;

  bool image_conditioned() const;
  // clip (T, 3, H, W) in [0, 1] -> the VAE's latents (and the first frame's moments for I2V).
  EncodedClip encode(const torch::Tensor& clip);
  // The transformer's input (1, F', in_channels, h, w) for explicit noise: noise like
  // clip.latents; image_noise (1, C, 1, h, w) the posterior sample's standard normal draw (I2V
  // with ImageLatents::kSample only, else ignored).
  torch::Tensor transformer_input(const EncodedClip& clip, const torch::Tensor& noise,
                                  const torch::Tensor& image_noise, int64_t timestep) const;
  // Video hidden states after each of `layers`, as float32 maps (F', dim, h', w').
  std::vector<torch::Tensor> video_maps(const torch::Tensor& input, int64_t timestep,
                                        const std::vector<int>& layers);
  std::vector<FeatureMaps> extract_at(const EncodedClip& clip,
                                      const std::vector<ExtractionPoint>& points);

  const ScheduleConfig& schedule() const { return schedule_; }

 private:
  int resolve_timestep(const ExtractionPoint& point) const;
  torch::Tensor image_latents(const EncodedClip& clip, const torch::Tensor& image_noise) const;
  std::string name_;
  Vae vae_;
  Transformer transformer_;
  ScheduleConfig schedule_;
  torch::Tensor context_;  // float32 as given; cast to the transformer's dtype per run
  FeatureOptions options_;
};

// transformer/, vae/, scheduler/ and (optional) text_encoder/ of a diffusers model directory.
struct ModelFiles {
  std::filesystem::path transformer, transformer_config, vae, vae_config, scheduler_config;
  std::filesystem::path text_encoder, text_encoder_config;  // may not exist
};
// Throws vidprobe::Error naming the directory and the missing part.
ModelFiles locate_model_files(const std::filesystem::path& weights);

// The empty prompt's context as the pipeline computes it: T5 v1.1 (text_encoder/, transformers
// T5EncoderModel) over EOS followed by pad ids up to `tokens`, without an attention mask, so the
// pad positions keep their outputs. (1, tokens, d_model) float32.
torch::Tensor empty_prompt_context(const std::filesystem::path& text_encoder,
                                   const std::filesystem::path& config, int tokens,
                                   torch::Device device, torch::Dtype dtype);

// A precomputed text context: a safetensors file with one tensor (or one named "context") of
// (L, D) or (1, L, D); L must be `tokens` and D `dim`, else vidprobe::Error naming the file.
torch::Tensor load_text_context(const std::filesystem::path& path, int tokens, int dim);

std::vector<BackboneInfo> cogvideox_backbones();
// From a diffusers model directory (options.weights) of any size; the registered names add the
// check that the directory is their variant (make_cogvideox_backbone).
std::unique_ptr<CogVideoXBackbone> load_cogvideox_backbone(const std::string& name,
                                                           const BackboneOptions& options,
                                                           const FeatureOptions& feature_options);
// options.weights (checked against the variant `name`), or with options.random_init and no
// weights the variant's architecture with seeded random weights and a random text context.
std::unique_ptr<Backbone> make_cogvideox_backbone(const std::string& name,
                                                  const BackboneOptions& options,
                                                  const FeatureOptions& feature_options);

}  // namespace vidprobe::backbones::cogvideox
