#include "vidprobe/backbones/cogvideox/backbone.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <tuple>

#include "vidprobe/backbones/cogvideox/checkpoint.h"
#include "vidprobe/backbones/family_support.h"
#include "vidprobe/backbones/wan/schedule.h"
#include "vidprobe/backbones/wan/text_encoder.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/linear.h"

namespace vidprobe::backbones::cogvideox {
namespace fs = std::filesystem;
namespace {

// One token per 16 x 16 pixels: the VAE's 8x spatial compression, then the 2 x 2 patch.
constexpr int kPixelsPerToken = 16;

std::string describe(const TransformerConfig& c) {
  return std::to_string(c.heads) + " heads x " + std::to_string(c.head_dim) + ", " +
         std::to_string(c.layers) + " blocks, " + std::to_string(c.in_channels) +
         " input channels, " + (c.rotary ? "RoPE" : "sin-cos positions") +
         (c.learned_positions ? " + learned positions" : "");
}

// A model directory passed to the wrong variant fails with the reason, not with shape errors.
void check_matches_variant(const TransformerConfig& found, const TransformerConfig& expected,
                           const std::string& name, const fs::path& source) {
  const bool same = found.heads == expected.heads && found.head_dim == expected.head_dim &&
                    found.layers == expected.layers && found.in_channels == expected.in_channels &&
                    found.rotary == expected.rotary &&
                    found.learned_positions == expected.learned_positions;
  require(same, "'" + source.string() + "' describes a CogVideoX transformer with " +
                    describe(found) + "; " + name + " has " + describe(expected));
}

// The tiles `vae_tiling=on` stands for: those of diffusers' enable_tiling() for this VAE.
std::optional<VaeTiling> vae_tiling_for(const VaeConfig& config, bool enabled) {
  if (!enabled) return std::nullopt;
  return diffusers_vae_tiling(config);
}

// VAE latents (1, C, F, h, w) -> the transformer's (1, F, C, h, w): scaling_factor x them in the
// VAE's dtype, as the pipelines scale (`vae_scaling_factor_image * latents`), then float32 for the
// noise, the DPM steps and the transformer.
torch::Tensor transformer_latents(const torch::Tensor& vae_latents, double scaling_factor) {
  return (vae_latents.permute({0, 2, 1, 3, 4}) * scaling_factor).to(torch::kFloat32);
}

}  // namespace

torch::Tensor posterior_sample(const torch::Tensor& moments, const torch::Tensor& eps) {
  const int64_t channels = moments.size(1) / 2;
  const auto logvar = moments.slice(1, channels).clamp(-30.0, 20.0);
  require(eps.defined() && eps.sizes() == logvar.sizes(),
          "the posterior sample's noise must be " + c10::str(logvar.sizes()));
  return moments.slice(1, 0, channels) +
         torch::exp(0.5 * logvar) * eps.to(moments.device(), moments.dtype());
}

const std::vector<std::string>& cogvideox_option_keys() {
  static const std::vector<std::string> keys{"text_context", "size", "image_latents", "vae_tiling",
                                             "vae_dtype"};
  return keys;
}

ChannelLayout cogvideox_layout(const TransformerConfig& config, int latent_channels) {
  return {.latent = latent_channels, .image_condition = config.in_channels == 2 * latent_channels};
}

NoiseStream::NoiseStream(std::uint64_t seed)
    : generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

torch::Tensor NoiseStream::next(c10::IntArrayRef shape, torch::Dtype dtype) {
  return torch::randn(shape, generator_, dtype);
}

torch::Tensor NoiseStream::next_on(c10::IntArrayRef shape, torch::Device device,
                                   torch::Dtype dtype) {
  return nn::to_device_async(next(shape, dtype), device);
}

FamilyOptions family_options() {
  return {.keys = cogvideox_option_keys(), .parse = feature_options_from};
}

FeatureOptions feature_options_from(const std::string& backbone,
                                    const std::map<std::string, std::string>& extra) {
  return feature_options_with_keys(backbone, extra, cogvideox_option_keys());
}

FeatureOptions feature_options_with_keys(const std::string& backbone,
                                         const std::map<std::string, std::string>& extra,
                                         const std::vector<std::string>& keys) {
  require_known_extra_options(backbone, extra, keys);
  FeatureOptions options;
  if (const auto found = extra.find("text_context"); found != extra.end())
    options.text_context = found->second;
  if (const auto found = extra.find("transformer"); found != extra.end())
    options.transformer = found->second;
  if (const auto found = extra.find("size"); found != extra.end()) {
    std::tie(options.height, options.width) =
        parse_height_width(found->second, "--backbone-opt size");
    require(options.height % kPixelsPerToken == 0 && options.width % kPixelsPerToken == 0,
            "--backbone-opt size must be positive multiples of 16, got '" + found->second + "'");
  }
  if (const auto found = extra.find("image_latents"); found != extra.end()) {
    require(found->second == "sample" || found->second == "mean",
            "--backbone-opt image_latents must be sample or mean, got '" + found->second + "'");
    options.image_latents = found->second == "sample" ? ImageLatents::kSample : ImageLatents::kMean;
  }
  if (const auto found = extra.find("vae_tiling"); found != extra.end()) {
    require(found->second == "on" || found->second == "off",
            "--backbone-opt vae_tiling must be on or off, got '" + found->second + "'");
    options.vae_tiling = found->second == "on";
  }
  if (const auto found = extra.find("vae_dtype"); found != extra.end())
    options.vae_dtype = nn::parse_dtype(found->second, "--backbone-opt vae_dtype");
  return options;
}

int64_t latent_frame_of(int64_t video_frame, int temporal_compression) {
  require(video_frame >= 0, "video frame index must be >= 0");
  return video_frame == 0 ? 0 : (video_frame - 1) / temporal_compression + 1;
}

torch::Tensor latent_frame_indices(int64_t video_frames, int temporal_compression) {
  std::vector<int64_t> index(static_cast<std::size_t>(video_frames));
  for (int64_t t = 0; t < video_frames; ++t)
    index[static_cast<std::size_t>(t)] = latent_frame_of(t, temporal_compression);
  return torch::tensor(index, torch::kLong);
}

CogVideoXBackbone::CogVideoXBackbone(std::string name, Vae vae, Transformer transformer,
                                     ScheduleConfig schedule, torch::Tensor context,
                                     FeatureOptions options, std::optional<ChannelLayout> layout)
    : name_(std::move(name)),
      vae_(std::move(vae)),
      transformer_(std::move(transformer)),
      schedule_(schedule),
      options_(std::move(options)) {
  const auto& config = transformer_->config;
  const int latent = vae_->config.latent_channels;
  layout_ = layout.value_or(cogvideox_layout(config, latent));
  if (!layout.has_value())
    require(config.in_channels == latent || config.in_channels == 2 * latent,
            "the VAE's " + std::to_string(latent) +
                " latent channels feed neither a text-to-video (" + std::to_string(latent) +
                ") nor an image-to-video (" + std::to_string(2 * latent) +
                ") transformer; it has " + std::to_string(config.in_channels));
  require(layout_.latent == latent, name_ + " expects " + std::to_string(layout_.latent) +
                                        " video latent channels; the VAE has " +
                                        std::to_string(latent));
  require(config.in_channels == layout_.input_channels() &&
              config.out_channels == layout_.output_channels(),
          name_ + " needs a transformer of " + std::to_string(layout_.input_channels()) +
              " input and " + std::to_string(layout_.output_channels()) +
              " output channels (video latents " + std::to_string(latent) + ", geometry " +
              std::to_string(layout_.geometry) + ", camera " + std::to_string(layout_.camera) +
              "); the transformer has " + std::to_string(config.in_channels) + " and " +
              std::to_string(config.out_channels));
  require(layout_.geometry == 0 || layout_.reconstruction_steps > 0,
          name_ + ": geometry channels need reconstruction steps to generate them");
  require(vae_->config.temporal_compression == config.temporal_compression,
          "the VAE compresses time by " + std::to_string(vae_->config.temporal_compression) +
              ", the transformer expects " + std::to_string(config.temporal_compression));
  require(context.dim() == 3 && context.size(0) == 1 && context.size(2) == config.text_embed_dim,
          "text context must be (1, tokens, " + std::to_string(config.text_embed_dim) + "), got " +
              c10::str(context.sizes()));
  context_ = context.to(torch::kFloat32);
  vae_->eval();
  transformer_->eval();
  to(transformer_->proj_out->weight.device(), transformer_->proj_out->weight.scalar_type());
}

InputSpec CogVideoXBackbone::input_spec() const {
  InputSpec spec;
  spec.height = options_.height;
  spec.width = options_.width;
  spec.mean = {0.5, 0.5, 0.5};  // the VAE reads [-1, 1]
  spec.std = {0.5, 0.5, 0.5};
  spec.frames_multiple = transformer_->config.temporal_compression;
  spec.frames_offset = 1;
  spec.patch_size = kPixelsPerToken;
  return spec;
}

ExtractionPoint CogVideoXBackbone::default_point() const {
  ExtractionPoint point;
  point.layer = kAuthorsLayer < num_layers() ? kAuthorsLayer : num_layers() / 2;
  point.timestep = static_cast<int>(sampler_timesteps(schedule_, kAuthorsSchedulerSteps)
                                        .at(static_cast<std::size_t>(kAuthorsSchedulerIndex)));
  return point;
}

void CogVideoXBackbone::to(torch::Device device, torch::Dtype dtype) {
  transformer_->to(device, dtype);
  vae_->to(device, options_.vae_dtype);
  // Beside the weights: a CPU context would be copied into every transformer run, and a copy
  // from pageable memory waits for the GPU to finish its queue.
  context_ = context_.to(device);
  transformer_->release_kept_tables();
}

EncodedClip CogVideoXBackbone::encode(const torch::Tensor& clip) {
  check_clip(clip, input_spec(), name_);
  torch::NoGradGuard no_grad;
  const auto device = vae_->encoder->conv_in->conv->weight.device();
  // (T, 3, H, W) in [0, 1] -> (1, 3, T, H, W) in [-1, 1], as the pipeline's video processor
  // (float32), then cast to the VAE's dtype as the pipelines cast it before encode.
  const auto video = (clip.to(device, torch::kFloat32) * 2 - 1)
                         .permute({1, 0, 2, 3})
                         .unsqueeze(0)
                         .to(options_.vae_dtype);
  const int64_t latent = vae_->config.latent_channels;
  EncodedClip encoded;
  encoded.video_frames = clip.size(0);
  const auto moments = vae_->encode_moments(video);
  encoded.latents = transformer_latents(moments.slice(1, 0, latent), vae_->config.scaling_factor);
  if (layout_.reconstruction_steps > 0) encoded.video_moments = moments;
  // The pipeline encodes the conditioning image on its own: the VAE's GroupNorms see one frame.
  if (image_conditioned()) encoded.image_moments = vae_->encode_moments(video.slice(2, 0, 1));
  return encoded;
}

torch::Tensor CogVideoXBackbone::image_latents(const EncodedClip& clip,
                                               const torch::Tensor& image_noise) const {
  const int64_t latent = vae_->config.latent_channels;
  require(clip.image_moments.defined(), name_ + ": the clip was encoded without image moments");
  auto image = options_.image_latents == ImageLatents::kSample
                   ? posterior_sample(clip.image_moments, image_noise)
                   : clip.image_moments.slice(1, 0, latent);
  // (1, 1, C, h, w): scaled in the VAE's dtype, as the pipeline's prepare_latents, then float32.
  image = transformer_latents(image, vae_->config.scaling_factor);
  // Zeros for the later latent frames, as the I2V pipeline pads them.
  auto padding = torch::zeros({1, clip.latents.size(1) - 1, latent, image.size(3), image.size(4)},
                              image.options());
  return torch::cat({image, padding}, 1);
}

torch::Tensor CogVideoXBackbone::with_camera(const torch::Tensor& latents) const {
  if (layout_.camera == 0) return latents;
  auto shape = latents.sizes().vec();
  shape[2] = layout_.camera;
  return torch::cat({latents, torch::zeros(shape, latents.options())}, 2);
}

torch::Tensor CogVideoXBackbone::transformer_input(const EncodedClip& clip,
                                                   const torch::Tensor& noise,
                                                   const torch::Tensor& image_noise,
                                                   int64_t timestep,
                                                   const torch::Tensor& geometry) const {
  torch::NoGradGuard no_grad;
  auto x0 = clip.latents;
  if (layout_.geometry > 0) {
    require(geometry.defined() && geometry.size(2) == layout_.geometry,
            name_ + ": the transformer input needs the " + std::to_string(layout_.geometry) +
                " geometry channels of the reconstruction");
    x0 = torch::cat({x0, geometry.to(x0.device(), x0.dtype())}, 2);
  }
  const auto noisy =
      add_noise(x0, noise.to(x0.device(), torch::kFloat32), torch::tensor({timestep}), schedule_);
  const auto extra = condition(clip, image_noise);
  return extra.defined() ? torch::cat({noisy, extra}, 2) : noisy;
}

torch::Tensor CogVideoXBackbone::condition(const EncodedClip& clip,
                                           const torch::Tensor& image_noise) const {
  if (image_conditioned()) return with_camera(image_latents(clip, image_noise));
  if (layout_.camera == 0) return {};
  auto shape = clip.latents.sizes().vec();
  shape[2] = layout_.camera;
  return torch::zeros(shape, clip.latents.options());
}

torch::Tensor CogVideoXBackbone::predict(const torch::Tensor& noisy, const torch::Tensor& condition,
                                         int64_t timestep) {
  torch::NoGradGuard no_grad;
  require(noisy.dim() == 5 && noisy.size(2) == layout_.output_channels(),
          name_ + ": the noised latents must be (1, frames, " +
              std::to_string(layout_.output_channels()) + ", h, w), got " +
              c10::str(noisy.sizes()));
  const auto device = transformer_->proj_out->weight.device();
  auto input = noisy.to(device, torch::kFloat32);
  if (condition.defined()) input = torch::cat({input, condition.to(device, torch::kFloat32)}, 2);
  return transformer_->forward(input, torch::tensor({static_cast<float>(timestep)}), context_)
      .to(torch::kFloat32);
}

torch::Tensor CogVideoXBackbone::dpm_sample(torch::Tensor latents, const torch::Tensor& condition,
                                            int steps, NoiseStream& noise) {
  const auto timesteps = sampler_timesteps(schedule_, steps);
  const auto shape = latents.sizes().vec();
  const auto device = latents.device();
  torch::Tensor previous_x0;
  for (std::size_t i = 0; i < timesteps.size(); ++i) {
    const int64_t t = timesteps[i];
    const auto prediction = predict(latents, condition, t).to(device);
    // The scheduler draws a second noise only on its second-order steps (not the first step,
    // not the one onto timestep < 0).
    const bool second_order =
        previous_x0.defined() && t - schedule_.num_train_timesteps / steps >= 0;
    const auto first = noise.next_on(shape, device);
    const auto second = second_order ? noise.next_on(shape, device) : torch::Tensor();
    const auto step = dpm_step(schedule_, steps, prediction, previous_x0, t,
                               i > 0 ? timesteps[i - 1] : -1, latents, first, second);
    latents = step.prev_sample;
    previous_x0 = step.pred_original_sample;
  }
  return latents;
}

torch::Tensor CogVideoXBackbone::ddim_sample(torch::Tensor latents, const torch::Tensor& condition,
                                             int steps) {
  for (const int64_t t : sampler_timesteps(schedule_, steps)) {
    const auto prediction = predict(latents, condition, t).to(latents.device());
    latents = ddim_step(schedule_, steps, prediction, t, latents).prev_sample;
  }
  return latents;
}

torch::Tensor CogVideoXBackbone::decode(const torch::Tensor& latents) {
  torch::NoGradGuard no_grad;
  require(vae_->has_decoder(), name_ + " was loaded without the VAE's decoder");
  require(latents.dim() == 5 && latents.size(0) == 1 && latents.size(2) == layout_.latent,
          name_ + ": latents to decode must be (1, frames, " + std::to_string(layout_.latent) +
              ", h, w), got " + c10::str(latents.sizes()));
  const auto device = vae_->encoder->conv_in->conv->weight.device();
  // decode_latents: `1 / vae_scaling_factor_image * latents` in the VAE's dtype.
  const auto z = latents.to(device, options_.vae_dtype).permute({0, 2, 1, 3, 4}) *
                 (1.0 / vae_->config.scaling_factor);
  const auto video = vae_->decode(z).to(torch::kFloat32);  // (1, 3, T, H, W)
  return ((video[0].permute({1, 0, 2, 3}) + 1) / 2).clamp(0, 1).contiguous();
}

torch::Tensor CogVideoXBackbone::reconstruct_geometry(const EncodedClip& clip, NoiseStream& noise) {
  torch::NoGradGuard no_grad;
  require(clip.video_moments.defined() && layout_.reconstruction_steps > 0,
          name_ + ": the clip was encoded without a reconstruction");
  const auto device = clip.latents.device();
  // Condition: the whole clip's posterior sample x scaling (the reconstruction task's video
  // latents), then zero camera channels (no raymap given). The eps is drawn, and the sample
  // scaled, in the VAE's dtype as diffusers' posterior of that VAE; then float32.
  auto eps_shape = clip.video_moments.sizes().vec();
  eps_shape[1] /= 2;
  const auto video = transformer_latents(
      posterior_sample(clip.video_moments, noise.next_on(eps_shape, clip.video_moments.device(),
                                                         clip.video_moments.scalar_type())),
      vae_->config.scaling_factor);
  const auto condition = with_camera(video);
  auto latent_shape = clip.latents.sizes().vec();
  latent_shape[2] = layout_.output_channels();
  const auto latents = noise.next_on(latent_shape, device);  // x init_noise_sigma = 1
  return dpm_sample(latents, condition, layout_.reconstruction_steps, noise)
      .slice(2, layout_.latent)
      .contiguous();
}

torch::Tensor CogVideoXBackbone::transformer_input_for(const EncodedClip& clip, std::uint64_t seed,
                                                       int64_t timestep) {
  torch::Tensor image_noise;
  const auto image_noise_shape = [&] {
    auto shape = clip.image_moments.sizes().vec();
    shape[1] /= 2;
    return shape;
  };
  if (layout_.reconstruction_steps == 0) {
    // CogVideoX: draw 0 noises the latents, draw 1 is the image latents' posterior eps.
    const auto noise = wan::seeded_noise(clip.latents.sizes(), seed);
    if (image_conditioned()) image_noise = wan::seeded_noise(image_noise_shape(), seed, /*draw=*/1);
    return transformer_input(clip, noise, image_noise, timestep);
  }
  // Aether: one stream in its pipeline's order (reconstruction, image latents, feature noise).
  NoiseStream stream(seed);
  const auto geometry = reconstruct_geometry(clip, stream);
  if (image_conditioned())
    image_noise = stream.next_on(image_noise_shape(), clip.image_moments.device(),
                                 clip.image_moments.scalar_type());
  auto shape = clip.latents.sizes().vec();
  shape[2] = layout_.output_channels();
  return transformer_input(clip, stream.next_on(shape, clip.latents.device()), image_noise,
                           timestep, geometry);
}

std::vector<torch::Tensor> CogVideoXBackbone::video_maps(const torch::Tensor& input,
                                                         int64_t timestep,
                                                         const std::vector<int>& layers) {
  torch::NoGradGuard no_grad;
  const auto timesteps = torch::tensor({static_cast<float>(timestep)});
  auto outputs = transformer_->run(input, timesteps, context_, layers);
  const auto& grid = outputs.grid;  // {F', h', w'}
  std::vector<torch::Tensor> maps;
  for (const auto& tokens : outputs.video)
    maps.push_back(tokens[0]
                       .view({grid[0], grid[1], grid[2], tokens.size(2)})
                       .permute({0, 3, 1, 2})
                       .to(torch::kFloat32)
                       .contiguous());
  return maps;
}

int CogVideoXBackbone::resolve_timestep(const ExtractionPoint& point) const {
  require(!point.sigma.has_value(),
          name_ +
              " is noised by its DDIM schedule (alphas_cumprod of the timestep); a flow "
              "sigma (--timestep sigma=... or unipc:...) does not apply: give a timestep or "
              "ddim:steps=N,index=I");
  const int timestep = point.timestep.value_or(*default_point().timestep);
  require(timestep >= 0 && timestep < schedule_.num_train_timesteps,
          name_ + ": timestep " + std::to_string(timestep) + " is outside 0.." +
              std::to_string(schedule_.num_train_timesteps - 1));
  return timestep;
}

std::vector<FeatureMaps> CogVideoXBackbone::extract_at(const EncodedClip& clip,
                                                       const std::vector<ExtractionPoint>& points) {
  // One transformer pass per (timestep, noise seed), up to the deepest layer asked for there.
  std::map<std::tuple<int, std::uint64_t>, std::vector<std::size_t>> groups;
  std::vector<int> layers(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    layers[i] = resolve_layer(points[i], num_layers(), default_point().layer, name_);
    groups[{resolve_timestep(points[i]), points[i].noise_seed}].push_back(i);
  }
  const auto frame_index =
      latent_frame_indices(clip.video_frames, transformer_->config.temporal_compression);
  std::vector<FeatureMaps> results(points.size());
  for (const auto& [key, members] : groups) {
    const auto [timestep, seed] = key;
    std::vector<int> group_layers;
    for (auto i : members) group_layers.push_back(layers[i]);
    const auto maps =
        video_maps(transformer_input_for(clip, seed, timestep), timestep, group_layers);
    for (std::size_t k = 0; k < members.size(); ++k) {
      auto& result = results[members[k]];
      result.features = maps[k].index_select(0, frame_index.to(maps[k].device())).contiguous();
      result.frame_index = frame_index;
      result.native_grid = {maps[k].size(0), maps[k].size(2), maps[k].size(3)};
    }
  }
  return results;
}

std::vector<FeatureMaps> CogVideoXBackbone::extract_many(
    const torch::Tensor& clip, const std::vector<ExtractionPoint>& points) {
  return extract_at(encode(clip), points);
}

FeatureMaps CogVideoXBackbone::extract(const torch::Tensor& clip, const ExtractionPoint& point) {
  return extract_at(encode(clip), {point}).front();
}

ModelFiles locate_model_files(const fs::path& weights, const fs::path& transformer) {
  const auto transformer_dir = transformer.empty() ? weights / "transformer" : transformer;
  require(
      fs::is_directory(transformer_dir) && fs::is_directory(weights / "vae"),
      "CogVideoX weights '" + weights.string() +
          "' must be a diffusers model directory with transformer/, vae/ and scheduler/ "
          "(e.g. a download of THUDM/CogVideoX-5b-I2V)" +
          (transformer.empty() ? "" : "; the transformer folder '" + transformer.string() + "'"));
  ModelFiles files{.transformer = transformer_dir,
                   .transformer_config = transformer_dir / "config.json",
                   .vae = weights / "vae",
                   .vae_config = weights / "vae" / "config.json",
                   .scheduler_config = weights / "scheduler" / "scheduler_config.json",
                   .text_encoder = weights / "text_encoder",
                   .text_encoder_config = weights / "text_encoder" / "config.json"};
  for (const auto& file : {files.transformer_config, files.vae_config, files.scheduler_config})
    require(fs::exists(file),
            "CogVideoX model directory '" + weights.string() + "' lacks '" + file.string() + "'");
  return files;
}

torch::Tensor empty_prompt_context(const fs::path& text_encoder, const fs::path& config_file,
                                   int tokens, torch::Device device, torch::Dtype dtype) {
  const auto config = wan::umt5_config_from_json(read_json_file(config_file), config_file.string());
  require(config.shared_position_bias,
          "'" + config_file.string() + "' is not a T5 (v1.1) encoder, CogVideoX's text encoder");
  wan::TextEncoder encoder(config, device, dtype);
  encoder.load(load_checkpoint(text_encoder), text_encoder.string());
  // EOS, then the tokenizer's pad id 0 up to max_length; T5 sees all of them (no mask).
  std::vector<int64_t> ids(static_cast<std::size_t>(tokens), 0);
  ids[0] = wan::kUMT5EosId;
  torch::NoGradGuard no_grad;
  return encoder.encode(torch::tensor(ids, torch::kLong)).unsqueeze(0).to(torch::kCPU);
}

torch::Tensor load_text_context(const fs::path& path, int tokens, int dim) {
  const auto tensors = load_safetensors(path);
  require(tensors.size() == 1 || tensors.count("context"),
          "text context '" + path.string() +
              "' must hold one tensor or one named 'context'; it holds " +
              std::to_string(tensors.size()));
  auto context = tensors.count("context") ? tensors.at("context") : tensors.begin()->second;
  if (context.dim() == 2) context = context.unsqueeze(0);
  // The pipeline pads the prompt to max_text_tokens and keeps T5's outputs at the pad positions
  // (no attention mask), so the rows cannot be recreated by zero padding here.
  require(context.dim() == 3 && context.size(0) == 1 && context.size(1) == tokens &&
              context.size(2) == dim,
          "text context '" + path.string() + "' must be (" + std::to_string(tokens) + ", " +
              std::to_string(dim) + ") T5 prompt embeddings as the pipeline pads them, got " +
              c10::str(context.sizes()));
  return context.to(torch::kFloat32);
}

namespace {

torch::Tensor random_context(const TransformerConfig& config, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randn({1, config.max_text_tokens, config.text_embed_dim}, generator,
                      torch::kFloat32);
}

}  // namespace

std::unique_ptr<CogVideoXBackbone> random_cogvideox_backbone(const std::string& name,
                                                             const TransformerConfig& config,
                                                             const BackboneOptions& options,
                                                             const FeatureOptions& feature_options,
                                                             std::optional<ChannelLayout> layout) {
  // Modules initialise from torch's generator: seeding it makes the random model reproducible.
  torch::manual_seed(options.seed);
  Transformer transformer(config);
  const VaeConfig vae_config;
  Vae vae(vae_config, /*with_decoder=*/false,
          vae_tiling_for(vae_config, feature_options.vae_tiling));
  transformer->to(options.device, options.dtype);
  const auto context = feature_options.text_context.empty()
                           ? random_context(config, options.seed + 2)
                           : load_text_context(feature_options.text_context, config.max_text_tokens,
                                               config.text_embed_dim);
  return std::make_unique<CogVideoXBackbone>(name, std::move(vae), std::move(transformer),
                                             ScheduleConfig{}, context, feature_options, layout);
}

std::unique_ptr<CogVideoXBackbone> load_cogvideox_backbone(const std::string& name,
                                                           const BackboneOptions& options,
                                                           const FeatureOptions& feature_options) {
  return load_cogvideox_backbone(name, options, feature_options,
                                 locate_model_files(options.weights), FineTune{});
}

std::unique_ptr<CogVideoXBackbone> load_cogvideox_backbone(
    const std::string& name, const BackboneOptions& options, const FeatureOptions& feature_options,
    const ModelFiles& files, const FineTune& fine_tune, bool with_decoder) {
  auto config = transformer_config_from_json(read_json_file(files.transformer_config),
                                             files.transformer_config.string());
  config.rope_time_scale = fine_tune.rope_time_scale;
  torch::Tensor context;
  if (!feature_options.text_context.empty()) {
    context = load_text_context(feature_options.text_context, config.max_text_tokens,
                                config.text_embed_dim);
  } else {
    require(fs::exists(files.text_encoder_config),
            "'" + options.weights + "' has no text_encoder/ (T5); pass --backbone-opt " +
                "text_context=FILE, the prompt embeddings (" +
                std::to_string(config.max_text_tokens) + " x " +
                std::to_string(config.text_embed_dim) + ", docs/cogvideox.md)");
    // Before the transformer is allocated, so T5 is freed first.
    context = empty_prompt_context(files.text_encoder, files.text_encoder_config,
                                   config.max_text_tokens, options.device, options.dtype);
  }
  Transformer transformer = [&] {  // every parameter is loaded next: none drawn first
    nn::UndrawnLinears undrawn;
    return Transformer(config);
  }();
  load_transformer(transformer, load_checkpoint(files.transformer), files.transformer.string());
  transformer->to(options.device, options.dtype);
  const auto vae_config =
      vae_config_from_json(read_json_file(files.vae_config), files.vae_config.string());
  Vae vae(vae_config, with_decoder, vae_tiling_for(vae_config, feature_options.vae_tiling));
  load_vae(vae, load_checkpoint(files.vae), files.vae.string());
  const auto schedule = schedule_config_from_json(read_json_file(files.scheduler_config),
                                                  files.scheduler_config.string());
  return std::make_unique<CogVideoXBackbone>(name, std::move(vae), std::move(transformer), schedule,
                                             context, feature_options, fine_tune.layout);
}

std::unique_ptr<Backbone> make_cogvideox_backbone(const std::string& name,
                                                  const BackboneOptions& options,
                                                  const FeatureOptions& feature_options) {
  if (options.weights.empty()) {
    require(options.random_init, name + " needs --weights (a diffusers CogVideoX model directory)");
    return random_cogvideox_backbone(name, transformer_config(name), options, feature_options);
  }
  require_variant(name, locate_model_files(options.weights));
  return load_cogvideox_backbone(name, options, feature_options);
}

void require_variant(const std::string& name, const ModelFiles& files) {
  check_matches_variant(transformer_config_from_json(read_json_file(files.transformer_config),
                                                     files.transformer_config.string()),
                        transformer_config(name), name, files.transformer_config);
}

std::vector<BackboneInfo> cogvideox_backbones() {
  auto infos = family_backbones(
      transformer_sizes(), "cogvideox",
      [](const std::string& name, const BackboneOptions& options) {
        return make_cogvideox_backbone(name, options, feature_options_from(name, options.extra));
      },
      family_options());
  infos.push_back(
      {.name = kSizedByConfigName,
       .family = "cogvideox",
       .description = "CogVideoX 1.0 transformer of the size its model directory's "
                      "transformer/config.json states (other sizes, fine-tunes)",
       .create = [](const BackboneOptions& options) -> std::unique_ptr<Backbone> {
         require(!options.weights.empty(),
                 std::string(kSizedByConfigName) +
                     " takes its size from --weights (a diffusers CogVideoX model directory)");
         return load_cogvideox_backbone(kSizedByConfigName, options,
                                        feature_options_from(kSizedByConfigName, options.extra));
       },
       .options = family_options()});
  return infos;
}

}  // namespace vidprobe::backbones::cogvideox
