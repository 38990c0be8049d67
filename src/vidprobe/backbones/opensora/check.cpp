#include "vidprobe/backbones/opensora/check.h"

#include <memory>

#include "vidprobe/backbones/opensora/backbone.h"
#include "vidprobe/backbones/opensora/sampling.h"
#include "vidprobe/backbones/wan/schedule.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones::opensora {
namespace {

std::vector<int64_t> half_channels(const torch::Tensor& moments) {
  auto shape = moments.sizes().vec();
  shape[1] /= 2;
  return shape;
}

std::vector<int64_t> latent_grid(const torch::Tensor& latents) {
  return {latents.size(2), latents.size(3), latents.size(4)};
}

// Shared by the check's callbacks, which outlive the factory call.
struct CheckState {
  std::unique_ptr<OpenSoraBackbone> backbone;
  torch::Tensor condition;    // of the clip last encoded
  std::vector<int64_t> grid;  // its latent grid (T', h, w)

  double t(const DiffusionTime& time) const {
    require(!time.sigma.has_value(),
            backbone->name() +
                " noises by the sampler's shifted time of its timestep; give the unshifted t as "
                "a timestep (250 = t 0.25), not a sigma");
    require(
        time.timestep >= 0 && time.timestep <= 1000,
        backbone->name() + ": timestep " + std::to_string(time.timestep) + " is outside 0..1000");
    return time.timestep / 1000.0;
  }
  const torch::Tensor& require_condition() const {
    require(condition.defined(),
            backbone->name() + ": encode a clip first (its first frame conditions the network)");
    return condition;
  }
};

// The extraction's latents and condition at noise seed kCheckConditionSeed (draws 1 and 2, as
// extract_at).
torch::Tensor encode_clip(CheckState& state, const torch::Tensor& clip) {
  auto& backbone = *state.backbone;
  const auto encoded = backbone.encode(clip);
  const auto x0 = backbone.clip_latents(
      encoded, wan::seeded_noise(half_channels(encoded.moments), kCheckConditionSeed, 1));
  state.condition = backbone.condition(
      encoded, wan::seeded_noise(half_channels(encoded.first_moments), kCheckConditionSeed, 2));
  state.grid = latent_grid(x0);
  return x0;
}

DiffusionCheckModel make_check_model(std::unique_ptr<OpenSoraBackbone> backbone) {
  const auto state = std::make_shared<CheckState>();
  state->backbone = std::move(backbone);
  const auto spec = state->backbone->input_spec();
  state->grid = {1, spec.height / 8, spec.width / 8};  // until a clip is encoded
  DiffusionCheckModel check;
  check.name = state->backbone->name();
  check.input = spec;
  check.default_time.timestep = state->backbone->default_point().timestep.value_or(0);
  check.encode = [state](const torch::Tensor& clip) { return encode_clip(*state, clip); };
  check.decode = [state](const torch::Tensor& latents) { return state->backbone->decode(latents); };
  check.sigma = [state](const DiffusionTime& time) {
    const auto ts = state->backbone->model_time(state->t(time), state->grid);
    return 1 - (1 - kSigmaMin) * (1 - ts.to(torch::kFloat64).item<double>());
  };
  check.add_noise = [state](const torch::Tensor& x0, const torch::Tensor& noise,
                            const DiffusionTime& time) {
    return noised_latents(x0, noise, state->backbone->model_time(state->t(time), latent_grid(x0)));
  };
  check.predict_x0 = [state](const torch::Tensor& noisy, const DiffusionTime& time) {
    const auto ts = state->backbone->model_time(state->t(time), latent_grid(noisy));
    const auto v = state->backbone->velocity(noisy, state->require_condition(), ts);
    return x0_from_velocity(noisy, v, ts);
  };
  check.sample = [state](const torch::Tensor& noise, int steps) {
    return sample_latents(*state->backbone, noise, state->require_condition(),
                          sampling_timesteps(steps, latent_grid(noise)));
  };
  return check;
}

}  // namespace

std::vector<CheckModelEntry> opensora_check_models() {
  std::vector<CheckModelEntry> entries;
  for (const auto& size : mmdit_sizes())
    entries.push_back({size.name, [name = size.name](const BackboneOptions& options) {
                         require(!options.weights.empty() || options.random_init,
                                 "check " + name +
                                     " needs --weights (a directory with "
                                     "Open_Sora_v2.safetensors and hunyuan_vae.safetensors)");
                         return make_check_model(load_opensora_backbone(
                             name, options, feature_options_from(name, options.extra),
                             /*with_decoder=*/true));
                       }});
  return entries;
}

}  // namespace vidprobe::backbones::opensora
