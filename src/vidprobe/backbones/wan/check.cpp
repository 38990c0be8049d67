#include "vidprobe/backbones/wan/check.h"

#include <memory>

#include "vidprobe/backbones/wan/backbone.h"
#include "vidprobe/backbones/wan/sampling.h"
#include "vidprobe/backbones/wan/schedule.h"

namespace vidprobe::backbones::wan {

DiffusionCheckModel make_wan_check_model(const std::string& name, const BackboneOptions& options) {
  const auto feature_options = feature_options_from(name, options.extra);
  // Shared by the callbacks below, which outlive this call.
  const auto model = std::make_shared<WanModel>(
      make_wan_model(name, options, feature_options, /*with_decoder=*/true));
  model->decoder->set_cudnn_benchmark(feature_options.cudnn_benchmark);
  model->decoder->parameters().to(options.device, feature_options.vae_dtype);  // as the encoder's
  const auto sigma_at = [](const DiffusionTime& time) {
    return time.sigma.value_or(sigma_of_timestep(time.timestep));
  };
  DiffusionCheckModel check;
  check.name = name;
  check.input = model->backbone->input_spec();
  check.default_time.timestep = kDefaultTimestep;
  check.encode = [model](const torch::Tensor& clip) { return model->backbone->encode(clip); };
  check.decode = [model](const torch::Tensor& latents) {
    torch::NoGradGuard no_grad;
    const auto video = model->decoder->decode_normalized(latents);  // (1, 3, T, H, W) in [-1, 1]
    return ((video[0].permute({1, 0, 2, 3}) + 1) / 2).contiguous();
  };
  check.sigma = sigma_at;
  check.add_noise = [sigma_at](const torch::Tensor& x0, const torch::Tensor& noise,
                               const DiffusionTime& time) {
    return add_flow_noise(x0, noise.to(x0.device(), x0.scalar_type()), sigma_at(time));
  };
  check.predict_x0 = [model, sigma_at](const torch::Tensor& noisy, const DiffusionTime& time) {
    const auto velocity = model->backbone->predict_velocity(noisy, time.timestep);
    // Flow matching predicts v = noise - x0, so x_t - sigma v = x0.
    return noisy.to(velocity.device(), torch::kFloat32) - sigma_at(time) * velocity;
  };
  // WanPipeline's loop (UniPC, flow shift 3) with the backbone's own context, the empty prompt by
  // default: with no prompt there is nothing to guide towards, so one pass per step (guidance 1).
  check.sample = [model](const torch::Tensor& noise, int steps) {
    const VelocityModel velocity = [model](const torch::Tensor& latents,
                                           const torch::Tensor& timesteps, Guidance) {
      return model->backbone->predict_velocity(latents, timesteps[0].item<double>());
    };
    SamplingOptions sampling;
    sampling.steps = steps;
    sampling.guidance_scale = 1.0;
    sampling.sampler = t2v_sampler_options();
    return sample_latents(velocity, noise, sampling);
  };
  return check;
}

}  // namespace vidprobe::backbones::wan
