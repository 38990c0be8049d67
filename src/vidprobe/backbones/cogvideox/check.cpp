#include "vidprobe/backbones/cogvideox/check.h"

#include <cmath>
#include <memory>
#include <optional>

#include "vidprobe/backbones/cogvideox/aether.h"
#include "vidprobe/backbones/cogvideox/backbone.h"
#include "vidprobe/backbones/wan/schedule.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/gzip.h"

namespace vidprobe::backbones::cogvideox {
namespace {

// The backbone keeps latents as (1, F', C, h, w), the pipelines' layout; DiffusionCheckModel
// hands them around as (1, C, F', h, w). The same permutation goes both ways.
torch::Tensor swap_frames_and_channels(const torch::Tensor& x) {
  return x.permute({0, 2, 1, 3, 4}).contiguous();
}

std::vector<int64_t> half_channels(const torch::Tensor& moments) {
  auto shape = moments.sizes().vec();
  shape[1] /= 2;
  return shape;
}

// Shared by the check's callbacks, which outlive the factory call.
struct CheckState {
  std::unique_ptr<CogVideoXBackbone> backbone;
  std::optional<Sampler> sampler;
  torch::Tensor condition;  // of the clip last encoded
  bool encoded = false;

  int64_t timestep(const DiffusionTime& time) const {
    require(!time.sigma.has_value(),
            backbone->name() +
                " is noised by its DDPM schedule; a flow sigma does not apply: give "
                "a timestep or ddim:steps=N,index=I");
    const int limit = backbone->schedule().num_train_timesteps;
    require(time.timestep >= 0 && time.timestep < limit,
            backbone->name() + ": timestep " + std::to_string(time.timestep) + " is outside 0.." +
                std::to_string(limit - 1));
    return time.timestep;
  }
  // The condition of the clip encoded last; a conditioned model cannot run before encode.
  const torch::Tensor& require_condition() const {
    const auto& layout = backbone->layout();
    require(encoded || layout.input_channels() == layout.output_channels(),
            backbone->name() + ": encode a clip first (its first frame conditions the network)");
    return condition;
  }
};

// The extraction's clip latents at noise seed kCheckConditionSeed, and the condition it builds.
torch::Tensor encode_clip(CheckState& state, const torch::Tensor& clip) {
  auto& backbone = *state.backbone;
  const auto encoded = backbone.encode(clip);
  auto x0 = encoded.latents;
  torch::Tensor image_noise;
  if (backbone.layout().reconstruction_steps > 0) {
    // Aether: the reconstruction's draws, then the image latents' eps, from one stream.
    NoiseStream stream(kCheckConditionSeed);
    x0 = torch::cat({x0, backbone.reconstruct_geometry(encoded, stream).to(x0.device())}, 2);
    if (backbone.image_conditioned())
      image_noise =
          stream.next(half_channels(encoded.image_moments), encoded.image_moments.scalar_type());
  } else if (backbone.image_conditioned()) {
    // CogVideoX I2V: draw 1 of the seed, as transformer_input_for.
    image_noise = wan::seeded_noise(half_channels(encoded.image_moments), kCheckConditionSeed, 1);
  }
  state.condition = backbone.condition(encoded, image_noise);
  state.encoded = true;
  return swap_frames_and_channels(x0);
}

torch::Tensor sample_latents(CheckState& state, const torch::Tensor& noise, int steps) {
  const auto start = swap_frames_and_channels(noise.to(torch::kFloat32));
  const auto& condition = state.require_condition();
  if (*state.sampler == Sampler::kDdim)
    return swap_frames_and_channels(state.backbone->ddim_sample(start, condition, steps));
  NoiseStream stream(kCheckSamplerSeed);
  return swap_frames_and_channels(state.backbone->dpm_sample(start, condition, steps, stream));
}

DiffusionCheckModel make_check_model(std::unique_ptr<CogVideoXBackbone> backbone,
                                     std::optional<Sampler> sampler) {
  const auto state = std::make_shared<CheckState>();
  state->backbone = std::move(backbone);
  state->sampler = sampler;
  DiffusionCheckModel check;
  check.name = state->backbone->name();
  check.input = state->backbone->input_spec();
  check.default_time.timestep = state->backbone->default_point().timestep.value_or(0);
  check.encode = [state](const torch::Tensor& clip) { return encode_clip(*state, clip); };
  check.decode = [state](const torch::Tensor& latents) {
    // Aether's latents carry geometry after the RGB ones; only the RGB latents are video.
    const auto video = latents.slice(1, 0, state->backbone->layout().latent);
    return state->backbone->decode(swap_frames_and_channels(video));
  };
  check.sigma = [state](const DiffusionTime& time) {
    const double alpha_bar =
        alphas_cumprod(state->backbone->schedule())[state->timestep(time)].item<double>();
    return std::sqrt(1 - alpha_bar);
  };
  check.add_noise = [state](const torch::Tensor& x0, const torch::Tensor& noise,
                            const DiffusionTime& time) {
    return add_noise(x0, noise.to(x0.device(), x0.scalar_type()),
                     torch::tensor({state->timestep(time)}), state->backbone->schedule());
  };
  check.predict_x0 = [state](const torch::Tensor& noisy, const DiffusionTime& time) {
    const int64_t t = state->timestep(time);
    const auto x_t = swap_frames_and_channels(noisy.to(torch::kFloat32));
    const auto output = state->backbone->predict(x_t, state->require_condition(), t);
    return swap_frames_and_channels(
        predicted_x0(state->backbone->schedule(), x_t.to(output.device()), output, t));
  };
  if (sampler.has_value())
    check.sample = [state](const torch::Tensor& noise, int steps) {
      return sample_latents(*state, noise, steps);
    };
  return check;
}

std::unique_ptr<CogVideoXBackbone> load_for_check(const std::string& name,
                                                  const BackboneOptions& options,
                                                  const ModelFiles& files) {
  return load_cogvideox_backbone(name, options, feature_options_from(name, options.extra), files,
                                 FineTune{}, /*with_decoder=*/true);
}

ModelFiles check_files(const std::string& name, const BackboneOptions& options) {
  require(!options.weights.empty(),
          "check " + name + " needs --weights (a diffusers model directory with vae/)");
  return locate_model_files(options.weights);
}

}  // namespace

std::vector<CheckModelEntry> cogvideox_check_models() {
  std::vector<CheckModelEntry> entries;
  for (const auto& size : transformer_sizes())
    entries.push_back(
        {size.name, [name = size.name, sampler = size.sampler](const BackboneOptions& options) {
           const auto files = check_files(name, options);
           require_variant(name, files);
           return make_check_model(load_for_check(name, options, files), sampler);
         }});
  entries.push_back(
      {kSizedByConfigName, [](const BackboneOptions& options) {
         const auto files = check_files(kSizedByConfigName, options);
         const auto sampler = sampler_from_scheduler_json(read_json_file(files.scheduler_config));
         return make_check_model(load_for_check(kSizedByConfigName, options, files), sampler);
       }});
  return entries;
}

std::vector<CheckModelEntry> aether_check_models() {
  return {{kAetherName, [](const BackboneOptions& options) {
             require(!options.weights.empty(),
                     std::string("check ") + kAetherName + " needs --weights (docs/cogvideox.md)");
             return make_check_model(load_aether_backbone(options, /*with_decoder=*/true),
                                     kAetherSampler);
           }}};
}

}  // namespace vidprobe::backbones::cogvideox
