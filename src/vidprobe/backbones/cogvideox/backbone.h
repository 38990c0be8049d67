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
//
// Aether (a CogVideoX-5B-I2V fine-tune) is the same backbone with more channels (ChannelLayout):
// the latents carry geometry channels that a short DPM reconstruction generates from the clip
// first, and the condition carries camera channels (zeros) after the image latents.
#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
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

// The transformer's channels around the VAE's video latents (constructor values; the registry
// entry of each model sets them, see cogvideox_layout and aether/aether_layout):
//   input  = [latent | geometry] (noised) | [latent if image_condition | camera] (the condition)
//   output = latent | geometry
struct ChannelLayout {
  int latent = 16;               // the VAE's video latents (RGB for Aether)
  int geometry = 0;              // latents generated with the video (Aether: disparity | raymap)
  bool image_condition = false;  // I2V: the first frame's latents, zero-padded in time
  int camera = 0;                // condition channels after the image latents (zeros: no raymap)
  int reconstruction_steps = 0;  // DPM steps that generate the geometry before the feature pass
  int input_channels() const { return latent + geometry + (image_condition ? latent : 0) + camera; }
  int output_channels() const { return latent + geometry; }
};
// CogVideoX 1.0: text-to-video (input = latent) or image-to-video (input = 2 latent).
ChannelLayout cogvideox_layout(const TransformerConfig& config, int latent_channels);

// The Aether path's random draws, in the order its pipeline makes them, from one generator seeded
// by the extraction point's noise seed: the clip's posterior eps, the initial latents, the DPM
// steps' draws, the first frame's posterior eps, the feature pass's noise.
class NoiseStream {
 public:
  explicit NoiseStream(std::uint64_t seed);
  // Standard normal on the CPU drawn in `dtype`, as torch.randn(..., dtype=dtype) draws it (a
  // bf16 draw is not a float32 draw rounded: diffusers' posterior sample of a bf16 VAE draws
  // in bf16).
  torch::Tensor next(c10::IntArrayRef shape, torch::Dtype dtype = torch::kFloat32);
  // The same draw, placed on `device` without holding the host (nn::to_device_async).
  torch::Tensor next_on(c10::IntArrayRef shape, torch::Device device,
                        torch::Dtype dtype = torch::kFloat32);

 private:
  at::Generator generator_;
};

// `--backbone-opt key=value` settings:
//   text_context   safetensors file with the T5 prompt embeddings (max_text_tokens x 4096, e.g.
//                  226 rows: the pipeline's padded prompt, pad positions included); without it
//                  the empty prompt (the authors') goes through the directory's text_encoder/
//   size           input HxW (default 480x720, the trained size; multiples of 16)
//   image_latents  sample (default, as the pipeline) or mean: the I2V first-frame latents
//   transformer    (aether only) the transformer/ folder to load instead of --weights/transformer
//   vae_tiling     off (default) or on: the VAE encodes (and `check` decodes) in diffusers'
//                  enable_tiling() tiles (diffusers_vae_tiling of vae/config.json), as the
//                  Aether authors' extraction does; `--preset vidfm3d` sets it for aether
//   vae_dtype      fp32 (default) | bf16 | fp16: the VAE's weights and compute (the clip's and
//                  the first frame's encode, Aether's reconstruction encode, `check`'s decoder),
//                  as diffusers runs a VAE loaded with that torch_dtype: the clip is cast to it,
//                  the posterior mean / sample and the scaling_factor multiply are in it, then
//                  the latents go on in float32. `--preset vidfm3d` sets the authors': bf16 for
//                  aether (AetherFeaturizer), fp16 for cogvideox* (CogVideoXFeaturizer)
struct FeatureOptions {
  std::filesystem::path text_context;
  std::filesystem::path transformer;
  int height = 480, width = 720;
  ImageLatents image_latents = ImageLatents::kSample;
  bool vae_tiling = false;
  torch::Dtype vae_dtype = torch::kFloat32;
};
FamilyOptions family_options();
// Throws vidprobe::Error naming the key and value at fault.
FeatureOptions feature_options_from(const std::string& backbone,
                                    const std::map<std::string, std::string>& extra);
// The same for a family that accepts other keys (Aether adds `transformer`).
FeatureOptions feature_options_with_keys(const std::string& backbone,
                                         const std::map<std::string, std::string>& extra,
                                         const std::vector<std::string>& keys);
// The CogVideoX keys (text_context, size, image_latents, vae_tiling, vae_dtype).
const std::vector<std::string>& cogvideox_option_keys();

// The latent frame holding video frame t (0 -> 0; 4j-3..4j -> j for temporal compression 4).
int64_t latent_frame_of(int64_t video_frame, int temporal_compression);
// (video_frames) int64: latent_frame_of for every frame.
torch::Tensor latent_frame_indices(int64_t video_frames, int temporal_compression);

// diffusers' DiagonalGaussianDistribution.sample: mean + exp(logvar / 2) eps, logvar clamped to
// [-30, 20], in the moments' dtype (the VAE's; eps is cast to it); moments (1, 2C, F, h, w), eps
// (1, C, F, h, w).
torch::Tensor posterior_sample(const torch::Tensor& moments, const torch::Tensor& eps);

// A clip through the VAE, shared by every extraction point.
struct EncodedClip {
  // (1, F', C, h, w) posterior mean x scaling_factor (multiplied in the VAE's dtype), float32
  torch::Tensor latents;
  // I2V: (1, 2C, 1, h, w) the first frame's [mean | logvar], in the VAE's dtype
  torch::Tensor image_moments;
  // with a reconstruction: (1, 2C, F', h, w) the clip's moments, in the VAE's dtype
  torch::Tensor video_moments;
  int64_t video_frames = 0;
};

class CogVideoXBackbone : public Backbone {
 public:
  // context: (1, max_text_tokens, text_embed_dim) prompt embeddings as the pipeline computes them.
  // layout: the transformer's channels (cogvideox_layout when not given); checked against the
  // transformer's config and the VAE.
  CogVideoXBackbone(std::string name, Vae vae, Transformer transformer, ScheduleConfig schedule,
                    torch::Tensor context, FeatureOptions options,
                    std::optional<ChannelLayout> layout = std::nullopt);

  std::string name() const override { return name_; }
  InputSpec input_spec() const override;
  int num_layers() const override { return transformer_->config.layers; }
  int feature_dim() const override { return transformer_->config.dim(); }
  // Block kAuthorsLayer (or the middle one of a shallower model) at the authors' timestep.
  ExtractionPoint default_point() const override;
  FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) override;
  std::vector<FeatureMaps> extract_many(const torch::Tensor& clip,
                                        const std::vector<ExtractionPoint>& points) override;
  // dtype is the transformer's compute dtype; the VAE (encoder and decoder) takes
  // FeatureOptions::vae_dtype (float32 by default).
  void to(torch::Device device, torch::Dtype dtype) override;

  bool image_conditioned() const { return layout_.image_condition; }
  const ChannelLayout& layout() const { return layout_; }
  // clip (T, 3, H, W) in [0, 1] -> the VAE's latents (and the first frame's moments for I2V).
  EncodedClip encode(const torch::Tensor& clip);
  // The transformer's input (1, F', in_channels, h, w) for explicit noise: noise like
  // clip.latents; image_noise (1, C, 1, h, w) the posterior sample's standard normal draw (I2V
  // with ImageLatents::kSample only, else ignored).
  // geometry (1, F', layout.geometry, h, w): the reconstruction's result, noised together with
  // the latents (noise then covers both); needed when the layout has geometry channels.
  torch::Tensor transformer_input(const EncodedClip& clip, const torch::Tensor& noise,
                                  const torch::Tensor& image_noise, int64_t timestep,
                                  const torch::Tensor& geometry = {}) const;
  // The geometry latents (1, F', layout.geometry, h, w) float32, as Aether's reconstruction task
  // makes them: the clip's posterior sample x scaling | zero camera as the condition, latents
  // from standard normal noise (init_noise_sigma 1), layout.reconstruction_steps steps of the DPM
  // sampler over the trailing timesteps without guidance, the channels after the video latents.
  // Draws from `noise` in the pipeline's order (NoiseStream).
  torch::Tensor reconstruct_geometry(const EncodedClip& clip, NoiseStream& noise);
  // The condition channels after the noised ones (1, F', input - output channels, h, w): I2V the
  // image latents (image_noise as for transformer_input), then zero camera channels; undefined
  // when the layout has none (text-to-video).
  torch::Tensor condition(const EncodedClip& clip, const torch::Tensor& image_noise) const;
  // The whole transformer's prediction (v or epsilon, the scheduler's prediction_type) for
  // noised latents (1, F', output channels, h, w) and the condition at `timestep`; float32.
  torch::Tensor predict(const torch::Tensor& noisy, const torch::Tensor& condition,
                        int64_t timestep);
  // The pipelines' sampling loops without guidance (one pass per step) over the trailing
  // timesteps, from latents (1, F', output channels, h, w) x init_noise_sigma (1):
  // CogVideoXDPMScheduler (its draws from `noise`, in the scheduler's order) or
  // CogVideoXDDIMScheduler (eta 0). float32.
  torch::Tensor dpm_sample(torch::Tensor latents, const torch::Tensor& condition, int steps,
                           NoiseStream& noise);
  torch::Tensor ddim_sample(torch::Tensor latents, const torch::Tensor& condition, int steps);
  // Latents (1, F', latent, h, w) as the transformer sees them -> frames (T, 3, H, W) in [0, 1],
  // float32: cast to the VAE's dtype and multiplied by 1 / scaling_factor there, decoded (the VAE
  // must have its decoder), (x + 1) / 2 clamped, as the pipelines' decode_latents and
  // postprocess_video.
  torch::Tensor decode(const torch::Tensor& latents);
  // Video hidden states after each of `layers`, as float32 maps (F', dim, h', w').
  std::vector<torch::Tensor> video_maps(const torch::Tensor& input, int64_t timestep,
                                        const std::vector<int>& layers);
  std::vector<FeatureMaps> extract_at(const EncodedClip& clip,
                                      const std::vector<ExtractionPoint>& points);

  const ScheduleConfig& schedule() const { return schedule_; }

 private:
  int resolve_timestep(const ExtractionPoint& point) const;
  torch::Tensor image_latents(const EncodedClip& clip, const torch::Tensor& image_noise) const;
  // (1, F', latent + camera, h, w): latents (1, F', latent, h, w) followed by zero camera channels.
  torch::Tensor with_camera(const torch::Tensor& latents) const;
  torch::Tensor transformer_input_for(const EncodedClip& clip, std::uint64_t seed,
                                      int64_t timestep);
  std::string name_;
  Vae vae_;
  Transformer transformer_;
  ScheduleConfig schedule_;
  torch::Tensor context_;  // float32 as given; cast to the transformer's dtype per run
  FeatureOptions options_;
  ChannelLayout layout_;
};

// transformer/, vae/, scheduler/ and (optional) text_encoder/ of a diffusers model directory.
struct ModelFiles {
  std::filesystem::path transformer, transformer_config, vae, vae_config, scheduler_config;
  std::filesystem::path text_encoder, text_encoder_config;  // may not exist
};
// Throws vidprobe::Error naming the directory and the missing part. transformer: a transformer/
// folder to use instead of weights/transformer (a fine-tune's, e.g. AetherV1's).
ModelFiles locate_model_files(const std::filesystem::path& weights,
                              const std::filesystem::path& transformer = {});

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
// What a fine-tune sets beyond its transformer/config.json (Aether: the RoPE time scale of its
// pipeline and its channels); defaults are CogVideoX's.
struct FineTune {
  double rope_time_scale = 1.0;
  std::optional<ChannelLayout> layout;
};
// with_decoder: the VAE's decoder too (`vidprobe check`), the whole vae/ file loaded strictly.
std::unique_ptr<CogVideoXBackbone> load_cogvideox_backbone(
    const std::string& name, const BackboneOptions& options, const FeatureOptions& feature_options,
    const ModelFiles& files, const FineTune& fine_tune, bool with_decoder = false);
// Throws vidprobe::Error unless files' transformer/config.json describes the variant `name`
// (a row of transformer_sizes()).
void require_variant(const std::string& name, const ModelFiles& files);
// Seeded random weights of `config` (benchmarks; options.seed): a default VAE and schedule and a
// seeded random text context (or feature_options.text_context).
std::unique_ptr<CogVideoXBackbone> random_cogvideox_backbone(
    const std::string& name, const TransformerConfig& config, const BackboneOptions& options,
    const FeatureOptions& feature_options, std::optional<ChannelLayout> layout = std::nullopt);
// options.weights (checked against the variant `name`), or with options.random_init and no
// weights the variant's architecture with seeded random weights and a random text context.
std::unique_ptr<Backbone> make_cogvideox_backbone(const std::string& name,
                                                  const BackboneOptions& options,
                                                  const FeatureOptions& feature_options);

}  // namespace vidprobe::backbones::cogvideox
