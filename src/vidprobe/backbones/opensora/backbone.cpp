#include "vidprobe/backbones/opensora/backbone.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <tuple>

#include "vidprobe/backbones/family_support.h"
#include "vidprobe/backbones/wan/schedule.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/linear.h"

namespace vidprobe::backbones::opensora {
namespace fs = std::filesystem;
namespace {

constexpr int kPixelsPerToken = 16;  // the VAE's 8x, then the 2 x 2 patch
constexpr int kTemporalCompression = 4;

const std::vector<std::string>& option_keys() {
  static const std::vector<std::string> keys{"t5",   "clip",      "text",
                                             "size", "posterior", "vae_dtype"};
  return keys;
}

}  // namespace

FamilyOptions family_options() {
  // The parsed struct is dropped: the CLI only checks the settings before any work.
  return {.keys = option_keys(), .parse = feature_options_from};
}

FeatureOptions feature_options_from(const std::string& backbone,
                                    const std::map<std::string, std::string>& extra) {
  require_known_extra_options(backbone, extra, option_keys());
  FeatureOptions options;
  if (const auto found = extra.find("text"); found != extra.end()) options.text = found->second;
  if (const auto found = extra.find("t5"); found != extra.end())
    options.encoders.t5 = found->second;
  if (const auto found = extra.find("clip"); found != extra.end())
    options.encoders.clip = found->second;
  require(options.text.empty() || (options.encoders.t5.empty() && options.encoders.clip.empty()),
          "--backbone-opt text= replaces the text encoders; give it or t5= / clip=, not both");
  if (const auto found = extra.find("vae_dtype"); found != extra.end())
    options.vae_dtype = nn::parse_dtype(found->second, "--backbone-opt vae_dtype");
  if (const auto found = extra.find("size"); found != extra.end()) {
    std::tie(options.height, options.width) =
        parse_height_width(found->second, "--backbone-opt size");
    require(options.height % kPixelsPerToken == 0 && options.width % kPixelsPerToken == 0,
            "--backbone-opt size must be positive multiples of 16, got '" + found->second + "'");
  }
  if (const auto found = extra.find("posterior"); found != extra.end()) {
    require(found->second == "sample" || found->second == "mean",
            "--backbone-opt posterior must be sample or mean, got '" + found->second + "'");
    options.posterior = found->second == "sample" ? Posterior::kSample : Posterior::kMean;
  }
  return options;
}

torch::Tensor latent_frame_indices(int64_t video_frames) {
  std::vector<int64_t> index(static_cast<std::size_t>(video_frames));
  for (int64_t t = 0; t < video_frames; ++t)
    index[static_cast<std::size_t>(t)] = t == 0 ? 0 : (t - 1) / kTemporalCompression + 1;
  return torch::tensor(index, torch::kLong);
}

double shift_alpha(int64_t frames, int64_t height, int64_t width) {
  // get_res_lin_function(): the line through (256, 1) and (4096, 3), at the tokens per frame
  // (integer division, as the sampler computes it), then the temporal factor sqrt(T').
  const double slope = (3.0 - 1.0) / (4096.0 - 256.0);
  const double tokens = static_cast<double>((height * width) / 4);
  return (slope * tokens + (1.0 - slope * 256.0)) * std::sqrt(static_cast<double>(frames));
}

torch::Tensor shifted_time(double t, double alpha, torch::Dtype dtype) {
  const auto t_in = torch::tensor({t}, torch::kFloat64).to(dtype);
  return alpha * t_in / (1 + (alpha - 1) * t_in);
}

torch::Tensor noised_latents(const torch::Tensor& x0, const torch::Tensor& noise,
                             const torch::Tensor& ts) {
  const auto dtype = ts.scalar_type();
  const auto t_rev = (1 - ts).to(torch::kFloat32).item<double>();
  return (t_rev * x0.to(dtype) +
          (1 - (1 - kSigmaMin) * t_rev) *
              nn::to_device_async(noise, x0.device()).to(torch::kFloat32).to(dtype))
      .to(torch::kFloat32);
}

torch::Tensor x0_from_velocity(const torch::Tensor& x_t, const torch::Tensor& velocity,
                               const torch::Tensor& ts) {
  // x_t = a x0 + b n and v = (1 - s) n - x0 give n = (v + x0) / (1 - s), so
  // x_t = (a + c) x0 + c v with c = b / (1 - s): solved for x0. (The sampler's last Euler step,
  // x_t - t v, is this up to s n.)
  const double t = ts.to(torch::kFloat64).item<double>();
  const double a = 1 - t, b = 1 - (1 - kSigmaMin) * a, c = b / (1 - kSigmaMin);
  return (x_t.to(torch::kFloat32) - c * velocity.to(x_t.device(), torch::kFloat32)) / (a + c);
}

OpenSoraBackbone::OpenSoraBackbone(std::string name, Vae vae, Mmdit mmdit, TextConditioning text,
                                   FeatureOptions options, VaeDecoding decoder)
    : name_(std::move(name)),
      vae_(std::move(vae)),
      mmdit_(std::move(mmdit)),
      text_(std::move(text)),
      options_(std::move(options)),
      decoder_(std::move(decoder)) {
  const auto& c = mmdit_->config;
  require(c.latent_channels() == vae_->config.latent_channels,
          name_ + ": the VAE has " + std::to_string(vae_->config.latent_channels) +
              " latent channels, the MMDiT reads " + std::to_string(c.latent_channels()));
  require(c.cond_embed, name_ +
                            ": the MMDiT has no cond_in (Open-Sora 2.0 conditions on the "
                            "first frame)");
  vae_->eval();
  mmdit_->eval();
  if (decoder_) decoder_->eval();
  to(mmdit_->img_in->weight.device(), mmdit_->img_in->weight.scalar_type());
}

InputSpec OpenSoraBackbone::input_spec() const {
  InputSpec spec;
  spec.height = options_.height;
  spec.width = options_.width;
  spec.mean = {0.5, 0.5, 0.5};  // the VAE reads [-1, 1]
  spec.std = {0.5, 0.5, 0.5};
  spec.frames_multiple = kTemporalCompression;
  spec.frames_offset = 1;
  spec.patch_size = kPixelsPerToken;
  return spec;
}

ExtractionPoint OpenSoraBackbone::default_point() const {
  ExtractionPoint point;
  const auto& c = mmdit_->config;
  point.layer =
      kAuthorsSingleBlock < c.depth_single_blocks ? c.depth + kAuthorsSingleBlock : c.blocks() / 2;
  point.timestep = kAuthorsTimestep;
  return point;
}

void OpenSoraBackbone::to(torch::Device device, torch::Dtype dtype) {
  mmdit_->to(device, dtype);
  vae_->to(device, options_.vae_dtype);
  if (decoder_) decoder_->to(device, options_.vae_dtype);
  // The text conditioning goes with the weights: copied in every run, it made the host wait.
  text_.t5 = text_.t5.to(device);
  text_.clip = text_.clip.to(device);
}

EncodedClip OpenSoraBackbone::encode(const torch::Tensor& clip) {
  check_clip(clip, input_spec(), name_);
  torch::NoGradGuard no_grad;
  const auto device = vae_->quant_conv->weight.device();
  const auto video = (clip.to(device, torch::kFloat32) * 2 - 1).permute({1, 0, 2, 3}).unsqueeze(0);
  // The condition's first frame is encoded on its own, as the authors' extraction does.
  return {vae_->moments(video).to(torch::kFloat32),
          vae_->moments(video.slice(2, 0, 1)).to(torch::kFloat32), clip.size(0)};
}

torch::Tensor OpenSoraBackbone::latents(const torch::Tensor& moments,
                                        const torch::Tensor& noise) const {
  const int64_t c = vae_->config.latent_channels;
  auto z = moments.slice(1, 0, c);
  if (options_.posterior == Posterior::kSample) {
    const auto logvar = moments.slice(1, c).clamp(-30.0, 20.0);
    require(noise.defined() && noise.sizes() == z.sizes(),
            name_ + ": posterior noise must be " + c10::str(z.sizes()));
    z = z + torch::exp(0.5 * logvar) * nn::to_device_async(noise, z.device()).to(z.dtype());
  }
  return vae_->config.scale_factor * (z - vae_->config.shift_factor);
}

torch::Tensor OpenSoraBackbone::clip_latents(const EncodedClip& clip,
                                             const torch::Tensor& clip_noise) const {
  return latents(clip.moments, clip_noise);
}

torch::Tensor OpenSoraBackbone::condition(const EncodedClip& clip,
                                          const torch::Tensor& first_noise) const {
  const auto& m = clip.moments;
  const int64_t c = vae_->config.latent_channels;
  auto cond = torch::zeros({1, c + 1, m.size(2), m.size(3), m.size(4)}, m.options());
  cond.select(2, 0).select(1, 0).fill_(1.0);
  cond.slice(1, 1).slice(2, 0, 1).copy_(latents(clip.first_moments, first_noise));
  return cond;
}

torch::Tensor OpenSoraBackbone::model_time(double t, const std::vector<int64_t>& grid) const {
  // The sampler's arithmetic in the model's dtype (bf16 in the authors' run): t, its shift and
  // the noising are tensors of that dtype there, rounded at every step.
  return shifted_time(t, shift_alpha(grid.at(0), grid.at(1), grid.at(2)),
                      mmdit_->img_in->weight.scalar_type());
}

MmditInputs OpenSoraBackbone::model_inputs(const EncodedClip& clip, double t,
                                           const torch::Tensor& noise,
                                           const torch::Tensor& clip_noise,
                                           const torch::Tensor& first_noise) const {
  const auto x0 = clip_latents(clip, clip_noise);
  const auto ts = model_time(t, {x0.size(2), x0.size(3), x0.size(4)});
  const auto xt = noised_latents(x0, noise, ts);
  const auto device = mmdit_->img_in->weight.device();
  return {xt.to(device), condition(clip, first_noise).to(device), text_.t5.to(device),
          text_.clip.to(device), nn::to_device_async(ts, device)};
}

torch::Tensor OpenSoraBackbone::velocity(const torch::Tensor& x_t, const torch::Tensor& cond,
                                         const torch::Tensor& ts) {
  torch::NoGradGuard no_grad;
  const auto device = mmdit_->img_in->weight.device();
  const MmditInputs inputs{x_t.to(device), cond.to(device), text_.t5.to(device),
                           text_.clip.to(device), nn::to_device_async(ts, device)};
  const auto out = mmdit_->run(inputs, {}, /*with_prediction=*/true);
  // Unpack (B, T h w, C p p) tokens into (B, C, T, h p, w p), as the official unpack.
  const int64_t p = mmdit_->config.patch_size, c = x_t.size(1);
  const auto& g = out.grid;
  return out.prediction.view({x_t.size(0), g[0], g[1], g[2], c, p, p})
      .permute({0, 4, 1, 2, 5, 3, 6})
      .reshape(x_t.sizes())
      .to(torch::kFloat32);
}

torch::Tensor OpenSoraBackbone::decode(const torch::Tensor& latents) {
  require(static_cast<bool>(decoder_), name_ + ": loaded without the VAE decoder");
  torch::NoGradGuard no_grad;
  const auto device = decoder_->post_quant_conv->weight.device();
  const auto video = decoder_->decode(latents.to(device));
  // The official saving maps [-1, 1] to [0, 1] and clamps.
  return ((video[0].permute({1, 0, 2, 3}) + 1) / 2).clamp(0, 1);
}

std::vector<FeatureMaps> OpenSoraBackbone::extract_at(const EncodedClip& clip,
                                                      const std::vector<ExtractionPoint>& points) {
  // One MMDiT pass per (timestep, noise seed), up to the deepest layer asked for there.
  std::map<std::tuple<int, std::uint64_t>, std::vector<std::size_t>> groups;
  std::vector<int> layers(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    require(!points[i].sigma.has_value(),
            name_ +
                " noises by the sampler's shifted time of its timestep; give the unshifted "
                "t as a timestep (250 = t 0.25, the authors'), not a sigma");
    layers[i] = resolve_layer(points[i], num_layers(), default_point().layer, name_);
    const int timestep = points[i].timestep.value_or(kAuthorsTimestep);
    require(timestep >= 0 && timestep <= 1000,
            name_ + ": timestep " + std::to_string(timestep) + " is outside 0..1000");
    groups[{timestep, points[i].noise_seed}].push_back(i);
  }
  const auto frame_index = latent_frame_indices(clip.video_frames);
  std::vector<FeatureMaps> results(points.size());
  torch::NoGradGuard no_grad;
  for (const auto& [key, members] : groups) {
    const auto [timestep, seed] = key;
    auto latent_shape = clip.moments.sizes().vec();
    latent_shape[1] /= 2;
    auto first_shape = clip.first_moments.sizes().vec();
    first_shape[1] /= 2;
    const auto inputs = model_inputs(clip, timestep / 1000.0, wan::seeded_noise(latent_shape, seed),
                                     wan::seeded_noise(latent_shape, seed, /*draw=*/1),
                                     wan::seeded_noise(first_shape, seed, /*draw=*/2));
    std::vector<int> group_layers;
    for (auto i : members) group_layers.push_back(layers[i]);
    const auto out = mmdit_->run(inputs, group_layers);
    const auto& grid = out.grid;
    for (std::size_t k = 0; k < members.size(); ++k) {
      const auto maps = out.img[k][0]
                            .view({grid[0], grid[1], grid[2], out.img[k].size(2)})
                            .permute({0, 3, 1, 2})
                            .to(torch::kFloat32);
      auto& result = results[members[k]];
      result.features = maps.index_select(0, frame_index.to(maps.device())).contiguous();
      result.frame_index = frame_index;
      result.native_grid = grid;
    }
  }
  return results;
}

std::vector<FeatureMaps> OpenSoraBackbone::extract_many(
    const torch::Tensor& clip, const std::vector<ExtractionPoint>& points) {
  return extract_at(encode(clip), points);
}

FeatureMaps OpenSoraBackbone::extract(const torch::Tensor& clip, const ExtractionPoint& point) {
  return extract_at(encode(clip), {point}).front();
}

namespace {

struct Configs {
  MmditConfig mmdit;
  VaeConfig vae;
};

// The registered size, or the weights directory's config.json ({"model": {...}, "ae": {...}},
// the official config's dicts) when it has one.
Configs configs_for(const std::string& name, const fs::path& weights) {
  Configs configs{mmdit_config(name), VaeConfig{}};
  const auto file = weights / "config.json";
  if (weights.empty() || !fs::exists(file)) return configs;
  const auto json = read_json_file(file);
  if (json.contains("model"))
    configs.mmdit = mmdit_config_from_json(json.at("model"), file.string());
  if (json.contains("ae")) configs.vae = vae_config_from_json(json.at("ae"), file.string());
  return configs;
}

TextConditioning random_text(const MmditConfig& c, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return {torch::randn({1, kT5Tokens, c.context_in_dim}, generator, torch::kFloat32),
          torch::randn({1, c.vec_in_dim}, generator, torch::kFloat32)};
}

// The encoder folders asked for, else those of the official ckpts/ layout under the weights.
TextEncoderFolders encoder_folders(const FeatureOptions& options, const fs::path& weights) {
  TextEncoderFolders folders = options.encoders;
  if (folders.t5.empty()) folders.t5 = weights / "google" / "t5-v1_1-xxl";
  if (folders.clip.empty()) folders.clip = weights / "openai" / "clip-vit-large-patch14";
  return folders;
}

// text=FILE; else the encoders (given, or the layout under the weights); else
// <weights>/empty_prompt.safetensors. Never silent zeros.
TextConditioning text_for(const FeatureOptions& options, const fs::path& weights,
                          const MmditConfig& config, const BackboneOptions& backbone) {
  if (!options.text.empty()) return load_text_conditioning(options.text, config);
  const auto folders = encoder_folders(options, weights);
  const bool asked = !options.encoders.t5.empty() || !options.encoders.clip.empty();
  const auto file = weights / "empty_prompt.safetensors";
  if (asked || (fs::exists(folders.t5) && fs::exists(folders.clip)) || !fs::exists(file))
    return encode_empty_prompt(folders, config, backbone.device, backbone.dtype);
  return load_text_conditioning(file, config);
}

}  // namespace

std::unique_ptr<OpenSoraBackbone> load_opensora_backbone(const std::string& name,
                                                         const BackboneOptions& options,
                                                         const FeatureOptions& feature_options,
                                                         bool with_decoder) {
  const fs::path weights = options.weights;
  const auto configs = configs_for(name, weights);
  if (weights.empty()) {
    require(options.random_init,
            name +
                " needs --weights (a directory with Open_Sora_v2.safetensors and "
                "hunyuan_vae.safetensors)");
    torch::manual_seed(options.seed);
    Mmdit mmdit(configs.mmdit);
    mmdit->to(options.device, options.dtype);
    const auto& encoders = feature_options.encoders;
    auto text = !feature_options.text.empty()
                    ? load_text_conditioning(feature_options.text, configs.mmdit)
                : !encoders.t5.empty() || !encoders.clip.empty()
                    ? encode_empty_prompt(encoder_folders(feature_options, {}), configs.mmdit,
                                          options.device, options.dtype)
                    : random_text(configs.mmdit, options.seed + 2);
    Vae vae(configs.vae);  // drawn before the decoder: the features' random VAE stays the same
    return std::make_unique<OpenSoraBackbone>(
        name, std::move(vae), std::move(mmdit), std::move(text), feature_options,
        with_decoder ? VaeDecoding(configs.vae) : VaeDecoding(nullptr));
  }
  const auto model_file = weights / "Open_Sora_v2.safetensors";
  const auto vae_file = weights / "hunyuan_vae.safetensors";
  for (const auto& file : {model_file, vae_file})
    require(fs::exists(file), name + ": '" + weights.string() + "' lacks '" +
                                  file.filename().string() + "' (the published checkpoint)");
  auto text = text_for(feature_options, weights, configs.mmdit, options);
  Mmdit mmdit = [&] {  // its 11 B parameters are all loaded next: none drawn first
    nn::UndrawnLinears undrawn;
    return Mmdit(configs.mmdit);
  }();
  load_mmdit(mmdit, load_safetensors(model_file), model_file.string());
  mmdit->to(options.device, options.dtype);
  auto vae_tensors = load_safetensors(vae_file);
  VaeDecoding decoder(nullptr);
  if (with_decoder) {
    decoder = VaeDecoding(configs.vae);
    load_vae_decoder(decoder, vae_tensors, vae_file.string());
  }
  Vae vae(configs.vae);
  load_vae(vae, std::move(vae_tensors), vae_file.string());
  return std::make_unique<OpenSoraBackbone>(name, std::move(vae), std::move(mmdit), std::move(text),
                                            feature_options, std::move(decoder));
}

std::unique_ptr<Backbone> make_opensora_backbone(const std::string& name,
                                                 const BackboneOptions& options,
                                                 const FeatureOptions& feature_options) {
  return load_opensora_backbone(name, options, feature_options, /*with_decoder=*/false);
}

std::vector<BackboneInfo> opensora_backbones() {
  return family_backbones(
      mmdit_sizes(), "opensora",
      [](const std::string& name, const BackboneOptions& options) {
        return make_opensora_backbone(name, options, feature_options_from(name, options.extra));
      },
      family_options());
}

}  // namespace vidprobe::backbones::opensora
