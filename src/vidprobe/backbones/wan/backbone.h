#pragma once
// WAN2.1 text-to-video (1.3B, 14B) as a vidprobe Backbone: features of a chosen DiT block at a
// chosen denoising timestep (see docs/wan.md).
//
//  clip (T = 4k + 1, 3, H, W) in [0, 1] --VAE--> latents (16, 1 + k, H/8, W/8), normalised
//  --flow noise, sigma = t / 1000, seeded--> DiT with the text context --> hidden states of block
//  `layer` (1 + k, dim, H/16, W/16) --> per video frame: frame 0 <- latent 0, frames 4j-3..4j <-
//  latent j.
//
// A sweep over layers and timesteps encodes the clip once (encode()) and runs the DiT once per
// (timestep, noise seed) up to the deepest requested layer (extract_at()).
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/backbones/wan/dit.h"
#include "vidprobe/backbones/wan/vae.h"

namespace vidprobe::backbones::wan {

// Default extraction timestep (sigma = 0.25); the paper reports an early-but-not-first denoising
// timestep as best but does not state its value: sweep it (docs/wan.md).
inline constexpr int kDefaultTimestep = 250;

// The registry name of a WAN2.1 text-to-video model sized by its own transformer config.json
// (other sizes and fine-tunes); "wan2.1-t2v-1.3b" / "-14b" check the directory against their size.
inline constexpr const char* kSizedByConfigName = "wan2.1-t2v";

// Settings BackboneOptions has no field for: `--backbone-opt key=value` (BackboneOptions::extra).
//   text_context     precomputed context (safetensors; see load_text_context)
//   prompt           the prompt's text, tokenized with the model directory's umT5 sentencepiece
//                    model (needs a build with sentencepiece; see wan_tokenizer.h)
//   prompt_ids       umT5 token ids of the prompt, comma-separated (default: "1", the empty prompt)
//   noise_draws      average the features over this many noise draws (default 1)
//   size             input HxW, e.g. 480x832 (default; multiples of 16)
//   cudnn_benchmark  0 turns off cuDNN autotuning of the VAE's convolutions (default 1)
//   text_length      rows of the padded text context (default 512, WAN's; 226 = diffusers')
//   vae_dtype        fp32 (default, as WAN's and the authors' pipelines) | bf16 | fp16: the VAE's
//                    weights and compute (encoder, and the check's decoder); latents are
//                    float32 either way
//   vae_channels_last 0 runs the VAE encoder in the contiguous layout on the GPU too (default 1:
//                    channels-last on CUDA, contiguous on the CPU)
// The DiT's and umT5's compute dtype is BackboneOptions::dtype (`vidprobe extract
// --compute-dtype`).
struct FeatureOptions {
  std::filesystem::path text_context;
  std::string prompt;  // text; when set, replaces prompt_ids after tokenization
  std::vector<int64_t> prompt_ids{1};
  int noise_draws = 1;
  int height = 480, width = 832;
  bool cudnn_benchmark = true;
  // Rows of the text context (the encoded prompt, zero-padded): WAN's own pipeline pads to 512,
  // diffusers' WanPipeline to 226 (max_sequence_length), which the paper's extraction used. The
  // zero rows are attended to, so the length changes the features.
  int text_length = kTextLength;
  // The VAE's precision. The encoder is ~80 % of a clip's time at the paper's size in float32;
  // what bf16 changes in the latents and the features is measured in docs/perf.md before any
  // preset uses it.
  torch::Dtype vae_dtype = torch::kFloat32;
  // The encoder's layout on CUDA (VaeEncoder::set_channels_last); the CPU keeps the contiguous one.
  bool vae_channels_last = true;
};
// The --backbone-opt settings of WAN: its keys, parsed by feature_options_from.
FamilyOptions family_options();
// Throws vidprobe::Error on unknown keys or malformed values, naming the option.
FeatureOptions feature_options_from(const std::string& backbone,
                                    const std::map<std::string, std::string>& extra);

// The latent frame that covers video frame t (0 -> 0; 4j-3..4j -> j).
int64_t latent_frame_of(int64_t video_frame);
// (latent frames, C, h, w) -> (video_frames, C, h, w) by that mapping.
torch::Tensor latent_maps_to_video_frames(const torch::Tensor& maps, int64_t video_frames);
// (video_frames) int64: latent_frame_of for every frame.
torch::Tensor latent_frame_indices(int64_t video_frames);

class WanBackbone : public Backbone {
 public:
  // context: (1, text_length, text_dim) text context, already padded.
  WanBackbone(std::string name, std::unique_ptr<VaeEncoder> vae, std::unique_ptr<Transformer> dit,
              torch::Tensor context, FeatureOptions options);

  std::string name() const override { return name_; }
  InputSpec input_spec() const override;
  int num_layers() const override { return dit_->config().layers; }
  int feature_dim() const override { return dit_->config().dim; }
  ExtractionPoint default_point() const override;
  FeatureMaps extract(const torch::Tensor& clip, const ExtractionPoint& point) override;
  // One VAE encoding for all points (a layer x timestep sweep never re-encodes a clip).
  std::vector<FeatureMaps> extract_many(const torch::Tensor& clip,
                                        const std::vector<ExtractionPoint>& points) override;
  // dtype is the DiT's compute dtype; the VAE takes FeatureOptions::vae_dtype (float32 by default).
  void to(torch::Device device, torch::Dtype dtype) override;
  // Casts the VAE encoder alone (its device unchanged); measures what the VAE's precision does.
  void set_vae_dtype(torch::Dtype dtype);

  // clip (T, 3, H, W) in [0, 1] -> normalised latents (1, 16, 1 + (T - 1) / 4, H / 8, W / 8).
  torch::Tensor encode(const torch::Tensor& clip) const;
  // Features at several points from one encoding: one DiT pass per distinct (timestep, seed)
  // and noise draw, stopping at the deepest layer asked for at that timestep.
  std::vector<FeatureMaps> extract_at(const torch::Tensor& latents, int64_t video_frames,
                                      const std::vector<ExtractionPoint>& points) const;

  // The full transformer's velocity prediction for noisy latents (1, C, F, h, w) at `timestep`,
  // with this backbone's text context (the empty prompt unless configured otherwise), float32.
  torch::Tensor predict_velocity(const torch::Tensor& noisy, double timestep) const;

  const Transformer& transformer() const { return *dit_; }
  const VaeEncoder& vae() const { return *vae_; }
  const FeatureOptions& options() const { return options_; }

 private:
  void check_clip(const torch::Tensor& clip) const;
  std::string name_;
  std::unique_ptr<VaeEncoder> vae_;
  std::unique_ptr<Transformer> dit_;
  torch::Tensor context_;           // (1, 512, text_dim) as given
  torch::Tensor embedded_context_;  // (1, 512, dim): the same for every point, computed once
  FeatureOptions options_;
};

// Where the parts of a WAN model directory live. Diffusers layout: transformer/, vae/,
// text_encoder/ subfolders; original Wan-Video layout: diffusion_pytorch_model*.safetensors and
// config.json at the top, Wan2.1_VAE.safetensors (converted from Wan2.1_VAE.pth) and optionally
// models_t5_umt5-xxl-enc-bf16.safetensors (converted from the .pth).
struct ModelFiles {
  std::filesystem::path transformer;         // file or directory for load_checkpoint
  std::filesystem::path transformer_config;  // may not exist
  std::filesystem::path vae;
  std::filesystem::path vae_config;           // may not exist
  std::filesystem::path text_encoder;         // may not exist
  std::filesystem::path text_encoder_config;  // may not exist
  std::filesystem::path tokenizer;            // umT5 spiece.model; may not exist
};
// Throws vidprobe::Error naming the directory and the files it looked for.
ModelFiles locate_model_files(const std::filesystem::path& weights);

// The family's registry entries, from its size table (1.3B, 14B, sized by the directory).
std::vector<BackboneInfo> wan_backbones();
std::unique_ptr<Backbone> make_wan_backbone(const std::string& name, const BackboneOptions& options,
                                            const FeatureOptions& feature_options);
// The backbone and, when asked, the VAE decoder loaded from the same VAE checkpoint (strictly:
// then every decoder tensor must be consumed too) or, with random_init, seeded.
struct WanModel {
  std::unique_ptr<WanBackbone> backbone;
  std::unique_ptr<VaeDecoder> decoder;  // null unless with_decoder
};
WanModel make_wan_model(const std::string& name, const BackboneOptions& options,
                        const FeatureOptions& feature_options, bool with_decoder);

}  // namespace vidprobe::backbones::wan
