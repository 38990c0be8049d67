#pragma once
// The configurations of the CogVideoX 1.0 pipelines as plain values, without libtorch (the fuzz
// build compiles their parsers): the expert transformer's architecture constants
// (THUDM/CogVideoX-2b, -5b and -5b-I2V, transformer/config.json of each; diffusers'
// CogVideoXTransformer3DModel; the three published variants differ only by width, depth, input
// channels and the position encoding), the VAE's and the scheduler's.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vidprobe::backbones::cogvideox {

struct TransformerConfig {
  int heads = 30;
  int head_dim = 64;
  int layers = 30;
  int in_channels = 16;  // 32 for image-to-video: noisy latents and image latents, concatenated
  int out_channels = 16;
  int time_embed_dim = 512;
  int text_embed_dim = 4096;  // T5-XXL width
  int patch = 2;              // spatial patch; every latent frame is patched on its own
  // The size the model was trained at, in latent units (480 x 720 pixels, 49 frames): it fixes
  // the learned position table and the base grid of the RoPE positions.
  int sample_height = 60;
  int sample_width = 90;
  int sample_frames = 49;  // in video frames: (latent frames - 1) * temporal_compression + 1
  int temporal_compression = 4;
  int max_text_tokens = 226;  // text tokens the position table reserves
  double norm_eps = 1e-5;
  double qk_norm_eps = 1e-6;
  double spatial_interpolation_scale = 1.875;  // sin-cos positions are divided by these
  double temporal_interpolation_scale = 1.0;
  double rope_theta = 10000.0;
  // RoPE time positions are frame indices times this: 1 for CogVideoX; Aether's pipeline scales
  // them by its base fps over the clip's fps (kAetherRopeTimeScale). Not in config.json.
  double rope_time_scale = 1.0;
  bool rotary = false;             // 3D RoPE on the video tokens (5B); else sin-cos positions (2B)
  bool learned_positions = false;  // a learned position table (5B-I2V); needs rotary

  int dim() const { return heads * head_dim; }
  int ff_dim() const { return 4 * dim(); }
  int sample_latent_frames() const { return (sample_frames - 1) / temporal_compression + 1; }
  // Channels of a head per RoPE axis: time, rows, columns (16 | 24 | 24 for head_dim 64).
  std::vector<int64_t> rope_axis_widths() const;
  // Throws vidprobe::Error naming the field when the numbers cannot form a model.
  void validate(const std::string& source) const;
};

// AetherV1PipelineCogVideoX: _base_fps 12 over the fps=8 that VidFM3D's Aether extraction passes
// (fps_factor of its get_3d_rotary_pos_embed).
inline constexpr double kAetherRopeTimeScale = 12.0 / 8.0;

// The pipelines' samplers: CogVideoXDDIMScheduler or CogVideoXDPMScheduler (schedule.h).
enum class Sampler { kDdim, kDpm };
// The sampler a scheduler_config.json's _class_name names; nullopt for another class or none.
std::optional<Sampler> sampler_from_scheduler_json(const nlohmann::json& config);

// The size table: one row per published variant.
struct TransformerSize {
  std::string name;  // cogvideox-2b, cogvideox-5b, cogvideox-5b-i2v
  std::string hub;   // the Hugging Face repository whose transformer/ folder loads
  TransformerConfig config;
  std::string description;  // the registry's one-line description
  // The sampler THUDM's inference code pairs with the variant (DDIM for 2B, DPM for 5B and
  // 5B-I2V; the published scheduler_config.json is a DDIM one for all): `vidprobe check`'s.
  Sampler sampler = Sampler::kDpm;
};
const std::vector<TransformerSize>& transformer_sizes();
// The row named `name`; an error lists the known names otherwise.
const TransformerConfig& transformer_config(const std::string& name);

// From a diffusers transformer/config.json; source names the file in errors. Refuses the
// CogVideoX 1.5 fields (patch_size_t, ofs_embed_dim) and options vidprobe does not implement.
TransformerConfig transformer_config_from_json(const nlohmann::json& config,
                                               const std::string& source);

// The 3D causal VAE (diffusers AutoencoderKLCogVideoX).
struct VaeConfig {
  int in_channels = 3;
  int out_channels = 3;  // the decoder's
  std::vector<int> block_out_channels{128, 256, 256, 512};
  int latent_channels = 16;
  int layers_per_block = 3;
  int norm_groups = 32;
  double norm_eps = 1e-6;
  int temporal_compression = 4;
  int frame_batch = 8;  // diffusers' num_sample_frames_batch_size
  // The latents the transformer sees are mean * scaling_factor (1.15258426 for 2B, 0.7 for 5B in
  // the published vae/config.json; read from the file).
  double scaling_factor = 1.15258426;
  // use_post_quant_conv: a 1x1x1 conv before the decoder (no published CogVideoX VAE has one;
  // diffusers builds it with out_channels in and out, so it needs latent == out channels).
  bool post_quant_conv = false;
  // The frame size the VAE was trained at (config.json's sample_height / sample_width); diffusers
  // derives its default tile size from it (half of each), nothing else reads it.
  int sample_height = 480, sample_width = 720;
  void validate(const std::string& source) const;
};
// From a diffusers vae/config.json; source names the file in errors.
VaeConfig vae_config_from_json(const nlohmann::json& config, const std::string& source);

// The DDIM noise schedule (diffusers CogVideoXDDIMScheduler).
struct ScheduleConfig {
  int num_train_timesteps = 1000;
  double beta_start = 0.00085;
  double beta_end = 0.012;
  double snr_shift_scale = 3.0;
  bool rescale_zero_terminal_snr = true;
  bool v_prediction = true;      // prediction_type v_prediction (CogVideoX 5B, Aether) or epsilon
  bool set_alpha_to_one = true;  // the alpha_bar past the last step: 1, else alpha_bar[0]
};

// From a diffusers scheduler_config.json; refuses beta schedules and timestep spacings other
// than CogVideoX's (scaled_linear, trailing) by name.
ScheduleConfig schedule_config_from_json(const nlohmann::json& config, const std::string& source);

}  // namespace vidprobe::backbones::cogvideox
