#include "vidprobe/backbones/wan/backbone.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "vidprobe/backbones/family_support.h"
#include "vidprobe/backbones/wan/check.h"
#include "vidprobe/backbones/wan/schedule.h"
#include "vidprobe/backbones/wan/text_encoder.h"
#include "vidprobe/backbones/wan/tokenizer.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/nn/device.h"

namespace vidprobe::backbones::wan {
namespace fs = std::filesystem;
namespace {

// The token grid is the latent grid patched by 2: one token per 16x16 pixels.
constexpr int kPixelsPerToken = kVaeSpatialStride * 2;

struct WanSize {
  std::string name;
  DiTConfig (*dit)();  // nullptr: sized by the model directory's transformer config.json
  std::string description;
};

// The registered sizes; kSizedByConfigName has none and takes its size from the model
// directory (other sizes, fine-tunes, the test fixtures).
const std::vector<WanSize>& wan_sizes() {
  static const std::vector<WanSize> sizes = {
      {"wan2.1-t2v-1.3b", t2v_1_3b_dit,
       "WAN2.1 text-to-video 1.3B DiT: a block's hidden states at a denoising timestep"},
      {"wan2.1-t2v-14b", t2v_14b_dit,
       "WAN2.1 text-to-video 14B DiT: a block's hidden states at a denoising timestep"},
      {kSizedByConfigName, nullptr,
       "WAN2.1 text-to-video DiT of the size its model directory's transformer/config.json "
       "states (other sizes, fine-tunes)"},
  };
  return sizes;
}

std::optional<DiTConfig> preset(const std::string& name) {
  const auto& size = find_size(wan_sizes(), name, "WAN");
  return size.dit ? std::optional<DiTConfig>(size.dit()) : std::nullopt;
}

// A checkpoint's config.json must describe the registered variant, so a 14B directory passed
// to the 1.3B name fails with the reason instead of a wall of shape mismatches.
void check_matches_preset(const DiTConfig& found, const DiTConfig& expected,
                          const std::string& name, const fs::path& source) {
  const auto describe = [](const DiTConfig& c) {
    return "dim " + std::to_string(c.dim) + ", " + std::to_string(c.layers) + " blocks, " +
           std::to_string(c.heads) + " heads, ffn " + std::to_string(c.ffn_dim) + ", text dim " +
           std::to_string(c.text_dim) + ", " + std::to_string(c.in_channels) + " input channels";
  };
  const bool same = found.dim == expected.dim && found.layers == expected.layers &&
                    found.heads == expected.heads && found.ffn_dim == expected.ffn_dim &&
                    found.text_dim == expected.text_dim &&
                    found.in_channels == expected.in_channels &&
                    found.out_channels == expected.out_channels && found.patch == expected.patch &&
                    found.freq_dim == expected.freq_dim;
  require(same, "'" + source.string() + "' describes a transformer with " + describe(found) + "; " +
                    name + " has " + describe(expected));
}

torch::Tensor compute_text_context(const ModelFiles& files, const FeatureOptions& options,
                                   const torch::Device& device, torch::Dtype dtype) {
  const auto config = fs::exists(files.text_encoder_config)
                          ? umt5_config_from_json(read_json_file(files.text_encoder_config),
                                                  files.text_encoder_config.string())
                          : UMT5Config{};
  TextEncoder encoder(config, device, dtype);
  encoder.load(load_checkpoint(files.text_encoder), files.text_encoder.string());
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor(options.prompt_ids, torch::kLong);
  // The encoder is freed on return.
  return pad_context(encoder.encode(ids), options.text_length).to(torch::kCPU);
}

const std::vector<std::string>& option_keys() {
  static const std::vector<std::string> keys{"text_context", "prompt",    "prompt_ids",
                                             "noise_draws",  "size",      "cudnn_benchmark",
                                             "text_length",  "vae_dtype", "vae_channels_last"};
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
  const auto value_of = [&](const char* key) {
    const auto found = extra.find(key);
    return found == extra.end() ? std::string() : found->second;
  };
  options.text_context = value_of("text_context");
  options.prompt = value_of("prompt");
  require(options.prompt.empty() || value_of("prompt_ids").empty(),
          "--backbone-opt prompt and prompt_ids are alternatives; give one of them");
  if (const auto ids = value_of("prompt_ids"); !ids.empty()) {
    options.prompt_ids.clear();
    std::stringstream stream(ids);
    for (std::string item; std::getline(stream, item, ',');)
      options.prompt_ids.push_back(parse_int(item, "--backbone-opt prompt_ids"));
  }
  if (const auto draws = value_of("noise_draws"); !draws.empty())
    options.noise_draws = parse_int(draws, "--backbone-opt noise_draws");
  require(options.noise_draws >= 1, "--backbone-opt noise_draws must be at least 1, got " +
                                        std::to_string(options.noise_draws));
  if (const auto size = value_of("size"); !size.empty()) {
    std::tie(options.height, options.width) = parse_height_width(size, "--backbone-opt size");
    require(options.height % kPixelsPerToken == 0 && options.width % kPixelsPerToken == 0,
            "--backbone-opt size must be positive multiples of 16, got '" + size + "'");
  }
  if (const auto length = value_of("text_length"); !length.empty()) {
    options.text_length = parse_int(length, "--backbone-opt text_length");
    require(options.text_length >= 1 && options.text_length <= kTextLength,
            "--backbone-opt text_length must be in 1.." + std::to_string(kTextLength) + ", got " +
                length);
  }
  read_zero_one_option(extra, "cudnn_benchmark", options.cudnn_benchmark);
  read_zero_one_option(extra, "vae_channels_last", options.vae_channels_last);
  if (const auto vae_dtype = value_of("vae_dtype"); !vae_dtype.empty())
    options.vae_dtype = nn::parse_dtype(vae_dtype, "--backbone-opt vae_dtype");
  return options;
}

int64_t latent_frame_of(int64_t video_frame) {
  require(video_frame >= 0, "video frame index must be >= 0");
  return video_frame == 0 ? 0 : (video_frame - 1) / kVaeTemporalStride + 1;
}

torch::Tensor latent_frame_indices(int64_t video_frames) {
  std::vector<int64_t> index(static_cast<std::size_t>(video_frames));
  for (int64_t t = 0; t < video_frames; ++t)
    index[static_cast<std::size_t>(t)] = latent_frame_of(t);
  return torch::tensor(index, torch::kLong);
}

torch::Tensor latent_maps_to_video_frames(const torch::Tensor& maps, int64_t video_frames) {
  require(video_frames >= 1 && latent_frame_of(video_frames - 1) == maps.size(0) - 1,
          std::to_string(maps.size(0)) + " latent frames cannot cover " +
              std::to_string(video_frames) +
              " video frames (4k + 1 frames give 1 + k latent frames)");
  return maps.index_select(0,
                           nn::to_device_async(latent_frame_indices(video_frames), maps.device()));
}

WanBackbone::WanBackbone(std::string name, std::unique_ptr<VaeEncoder> vae,
                         std::unique_ptr<Transformer> dit, torch::Tensor context,
                         FeatureOptions options)
    : name_(std::move(name)),
      vae_(std::move(vae)),
      dit_(std::move(dit)),
      options_(std::move(options)) {
  require(vae_ && dit_, "WanBackbone needs a VAE encoder and a transformer");
  require(vae_->config().z_dim == dit_->config().in_channels,
          "the VAE's " + std::to_string(vae_->config().z_dim) +
              " latent channels do not feed the "
              "transformer's " +
              std::to_string(dit_->config().in_channels) + " input channels");
  require(context.dim() == 3 && context.size(0) == 1 && context.size(2) == dit_->config().text_dim,
          "text context must be (1, tokens, " + std::to_string(dit_->config().text_dim) +
              "), got " + c10::str(context.sizes()));
  require(options_.noise_draws >= 1, "noise draws must be at least 1");
  context_ = context.to(torch::kFloat32);
  vae_->set_cudnn_benchmark(options_.cudnn_benchmark);
  to(dit_->parameters().device(), dit_->parameters().dtype());
}

InputSpec WanBackbone::input_spec() const {
  InputSpec spec;
  spec.height = options_.height;
  spec.width = options_.width;
  spec.mean = {0.5, 0.5, 0.5};  // the VAE reads [-1, 1]
  spec.std = {0.5, 0.5, 0.5};
  spec.frames_multiple = kVaeTemporalStride;
  spec.frames_offset = 1;
  spec.patch_size = kPixelsPerToken;
  return spec;
}

ExtractionPoint WanBackbone::default_point() const {
  ExtractionPoint point;
  point.layer = num_layers() / 2;  // a middle block
  point.timestep = kDefaultTimestep;
  return point;
}

void WanBackbone::to(torch::Device device, torch::Dtype dtype) {
  dit_->parameters().to(device, dtype);
  dit_->release_kept_tables();
  vae_->parameters().to(device, options_.vae_dtype);
  vae_->set_channels_last(options_.vae_channels_last && device.is_cuda());
  torch::NoGradGuard no_grad;
  embedded_context_ = dit_->embed_context(context_.to(device));
}

void WanBackbone::set_vae_dtype(torch::Dtype dtype) {
  options_.vae_dtype = dtype;
  vae_->parameters().to(vae_->parameters().device(), dtype);
}

void WanBackbone::check_clip(const torch::Tensor& clip) const {
  require(clip.dim() == 4 && clip.size(1) == 3,
          name_ + " expects a clip (frames, 3, height, width), got " + c10::str(clip.sizes()));
  const int64_t frames = clip.size(0);
  require(frames >= 1 && (frames - 1) % kVaeTemporalStride == 0,
          name_ + " needs clips of 4k + 1 frames (e.g. --frames 5, 9, 17), got " +
              std::to_string(frames));
  require(clip.size(2) % kPixelsPerToken == 0 && clip.size(3) % kPixelsPerToken == 0,
          name_ + " needs a height and width that are multiples of 16, got " +
              std::to_string(clip.size(2)) + "x" + std::to_string(clip.size(3)));
}

torch::Tensor WanBackbone::encode(const torch::Tensor& clip) const {
  check_clip(clip);
  torch::NoGradGuard no_grad;
  const auto video = (clip.to(torch::kFloat32) * 2 - 1).permute({1, 0, 2, 3}).unsqueeze(0);
  return vae_->encode(video);
}

std::vector<FeatureMaps> WanBackbone::extract_at(const torch::Tensor& latents, int64_t video_frames,
                                                 const std::vector<ExtractionPoint>& points) const {
  require(latents.dim() == 5 && latents.size(0) == 1,
          "latents must be (1, channels, frames, height, width), got " + c10::str(latents.sizes()));
  torch::NoGradGuard no_grad;
  const auto defaults = default_point();
  // Group the points by noise draw: each group is one DiT pass (per draw) to its deepest layer.
  std::map<std::tuple<int, double, std::uint64_t>, std::vector<std::size_t>> groups;
  std::vector<int> layers(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    layers[i] = points[i].layer < 0 ? defaults.layer : points[i].layer;
    require(layers[i] < num_layers(), "--layer " + std::to_string(layers[i]) + " is outside " +
                                          name_ + ", which has blocks 0.." +
                                          std::to_string(num_layers() - 1));
    const int timestep = points[i].timestep.value_or(*defaults.timestep);
    const double sigma = points[i].sigma.value_or(sigma_of_timestep(timestep));
    require(sigma >= 0 && sigma <= 1,
            "the noise level sigma must be within [0, 1], got " + std::to_string(sigma));
    groups[{timestep, sigma, points[i].noise_seed}].push_back(i);
  }
  const auto device = dit_->parameters().device();
  const auto x0 = latents.to(device, torch::kFloat32);
  std::vector<FeatureMaps> results(points.size());
  for (const auto& [key, members] : groups) {
    const auto [timestep, sigma, seed] = key;
    std::vector<int> group_layers;
    for (auto i : members) group_layers.push_back(layers[i]);
    std::vector<torch::Tensor> sums(members.size());
    std::vector<int64_t> grid;
    for (int draw = 0; draw < options_.noise_draws; ++draw) {
      // Drawn on the CPU as the reference draws it; a pageable copy would make the host wait.
      const auto noise = nn::to_device_async(seeded_noise(x0.sizes(), seed, draw), device);
      const auto noisy = add_flow_noise(x0, noise, sigma);
      auto out = dit_->run(noisy, torch::tensor({static_cast<float>(timestep)}), embedded_context_,
                           group_layers);
      grid = out.grid;
      for (std::size_t k = 0; k < members.size(); ++k)
        sums[k] = sums[k].defined() ? sums[k] + out.blocks[k] : out.blocks[k];
    }
    for (std::size_t k = 0; k < members.size(); ++k) {
      const auto maps = tokens_to_maps(sums[k] / options_.noise_draws, grid)[0];  // (F', C, h, w)
      results[members[k]].features = latent_maps_to_video_frames(maps, video_frames).contiguous();
      results[members[k]].frame_index = latent_frame_indices(video_frames);
      results[members[k]].native_grid = grid;
    }
  }
  return results;
}

torch::Tensor WanBackbone::predict_velocity(const torch::Tensor& noisy, double timestep) const {
  torch::NoGradGuard no_grad;
  const auto device = dit_->parameters().device();
  const auto timesteps = torch::full({noisy.size(0)}, timestep, torch::kFloat32);
  auto context = embedded_context_;
  if (noisy.size(0) > 1) context = context.expand({noisy.size(0), -1, -1});
  return dit_->run(noisy.to(device, torch::kFloat32), timesteps, context, {}, true).prediction;
}

std::vector<FeatureMaps> WanBackbone::extract_many(const torch::Tensor& clip,
                                                   const std::vector<ExtractionPoint>& points) {
  return extract_at(encode(clip), clip.size(0), points);
}

FeatureMaps WanBackbone::extract(const torch::Tensor& clip, const ExtractionPoint& point) {
  const auto latents = encode(clip);
  return extract_at(latents, clip.size(0), {point}).front();
}

ModelFiles locate_model_files(const fs::path& weights) {
  require(fs::is_directory(weights),
          "WAN weights '" + weights.string() +
              "' must be a model directory (diffusers layout with "
              "transformer/ and vae/, or the original Wan2.1-T2V-* release)");
  ModelFiles files;
  if (fs::is_directory(weights / "transformer")) {
    files.transformer = weights / "transformer";
    files.transformer_config = weights / "transformer" / "config.json";
    files.vae = weights / "vae";
    files.vae_config = weights / "vae" / "config.json";
    files.text_encoder = weights / "text_encoder";
    files.text_encoder_config = weights / "text_encoder" / "config.json";
    files.tokenizer = weights / "tokenizer" / "spiece.model";
    require(fs::is_directory(files.vae), "diffusers-layout WAN directory '" + weights.string() +
                                             "' has transformer/ but no vae/");
    return files;
  }
  if (fs::exists(weights / "diffusion_pytorch_model.safetensors.index.json"))
    files.transformer = weights;  // sharded: load_checkpoint follows the index
  else if (fs::exists(weights / "diffusion_pytorch_model.safetensors"))
    files.transformer = weights / "diffusion_pytorch_model.safetensors";
  else
    throw Error("'" + weights.string() +
                "' holds neither transformer/ (diffusers layout) nor "
                "diffusion_pytorch_model.safetensors[.index.json] (original WAN layout)");
  files.transformer_config = weights / "config.json";
  if (fs::exists(weights / "Wan2.1_VAE.safetensors")) {
    files.vae = weights / "Wan2.1_VAE.safetensors";
  } else if (fs::is_directory(weights / "vae")) {
    files.vae = weights / "vae";
    files.vae_config = weights / "vae" / "config.json";
  } else {
    throw Error("'" + weights.string() +
                "' has no Wan2.1_VAE.safetensors: the release ships the VAE as "
                "Wan2.1_VAE.pth, which vidprobe does not read; convert it once to safetensors "
                "(docs/wan.md) or use the diffusers layout");
  }
  files.text_encoder = weights / "models_t5_umt5-xxl-enc-bf16.safetensors";
  if (!fs::exists(files.text_encoder) && fs::is_directory(weights / "text_encoder")) {
    files.text_encoder = weights / "text_encoder";
    files.text_encoder_config = weights / "text_encoder" / "config.json";
  }
  // The original release keeps the tokenizer as a copy of google/umt5-xxl.
  files.tokenizer = fs::exists(weights / "google" / "umt5-xxl" / "spiece.model")
                        ? weights / "google" / "umt5-xxl" / "spiece.model"
                        : weights / "tokenizer" / "spiece.model";
  return files;
}

std::unique_ptr<Backbone> make_wan_backbone(const std::string& name, const BackboneOptions& options,
                                            const FeatureOptions& feature_options) {
  return make_wan_model(name, options, feature_options, /*with_decoder=*/false).backbone;
}

WanModel make_wan_model(const std::string& name, const BackboneOptions& options,
                        const FeatureOptions& feature_options, bool with_decoder) {
  const auto expected = preset(name);
  const auto device = options.device;
  // The DiT's and umT5's dtype. The VAE is built and loaded in float32 and cast by
  // WanBackbone::to (feature_options.vae_dtype), so every VAE precision sees the same weights.
  const auto dtype = options.dtype;
  auto vae_config = VaeConfig{};
  torch::Tensor context;
  std::unique_ptr<Transformer> dit;
  std::unique_ptr<VaeEncoder> vae;

  if (options.weights.empty()) {
    require(options.random_init, name + " needs --weights (a WAN model directory)");
    require(expected.has_value(), name +
                                      " takes its size from --weights (the transformer's "
                                      "config.json); random weights need a sized variant");
    require(feature_options.prompt.empty(),
            "--backbone-opt prompt needs --weights: the tokenizer is part of the model directory");
    dit = std::make_unique<Transformer>(*expected, device, dtype);
    dit->parameters().randomize(options.seed);
    vae = std::make_unique<VaeEncoder>(vae_config, device);
    vae->parameters().randomize(options.seed + 1);
    std::unique_ptr<VaeDecoder> decoder;
    if (with_decoder) {
      decoder = std::make_unique<VaeDecoder>(vae_config, device);
      decoder->parameters().randomize(options.seed + 3);
    }
    if (!feature_options.text_context.empty()) {
      context = load_text_context(feature_options.text_context, expected->text_dim,
                                  feature_options.text_length);
    } else {  // a stand-in for the empty prompt's single token
      auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed + 2);
      context = pad_context(torch::randn({1, expected->text_dim}, generator, torch::kFloat32),
                            feature_options.text_length);
    }
    return {std::make_unique<WanBackbone>(name, std::move(vae), std::move(dit), context,
                                          feature_options),
            std::move(decoder)};
  }

  const auto files = locate_model_files(options.weights);
  DiTConfig config;
  if (fs::exists(files.transformer_config)) {
    config = dit_config_from_json(read_json_file(files.transformer_config),
                                  files.transformer_config.string());
    if (expected) check_matches_preset(config, *expected, name, files.transformer_config);
  } else {
    require(expected.has_value(), name + " takes its size from '" +
                                      files.transformer_config.string() +
                                      "', which does not exist");
    config = *expected;
  }
  // The text context first, so umT5 is released before the transformer is allocated.
  if (!feature_options.text_context.empty()) {
    context = load_text_context(feature_options.text_context, config.text_dim,
                                feature_options.text_length);
  } else {
    require(fs::exists(files.text_encoder), "'" + options.weights +
                                                "' has no umT5 text encoder (text_encoder/ or "
                                                "models_t5_umt5-xxl-enc-bf16.safetensors); pass "
                                                "--backbone-opt text_context=FILE, a precomputed "
                                                "context (docs/wan.md)");
    auto text_options = feature_options;
    if (!text_options.prompt.empty())
      text_options.prompt_ids = tokenize_prompt(files.tokenizer, text_options.prompt);
    context = compute_text_context(files, text_options, device, dtype);
  }

  dit = std::make_unique<Transformer>(config, device, dtype);
  dit->load(load_checkpoint(files.transformer), files.transformer.string());
  if (!files.vae_config.empty() && fs::exists(files.vae_config))
    vae_config = vae_config_from_json(read_json_file(files.vae_config), files.vae_config.string());
  vae = std::make_unique<VaeEncoder>(vae_config, device);
  std::unique_ptr<VaeDecoder> decoder;
  if (with_decoder) {
    decoder = std::make_unique<VaeDecoder>(vae_config, device);
    load_vae(load_checkpoint(files.vae), files.vae.string(), *vae, *decoder);
  } else {
    vae->load(load_checkpoint(files.vae), files.vae.string());
  }
  return {
      std::make_unique<WanBackbone>(name, std::move(vae), std::move(dit), context, feature_options),
      std::move(decoder)};
}

std::vector<BackboneInfo> wan_backbones() {
  return family_backbones(
      wan_sizes(), "wan2.1",
      [](const std::string& name, const BackboneOptions& options) {
        return make_wan_backbone(name, options, feature_options_from(name, options.extra));
      },
      family_options());
}

std::vector<CheckModelEntry> wan_check_models() {
  std::vector<CheckModelEntry> entries;
  for (const auto& size : wan_sizes())
    entries.push_back({size.name, [name = size.name](const BackboneOptions& options) {
                         return make_wan_check_model(name, options);
                       }});
  return entries;
}

}  // namespace vidprobe::backbones::wan
