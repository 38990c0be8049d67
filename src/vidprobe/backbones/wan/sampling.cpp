#include "vidprobe/backbones/wan/sampling.h"

#include "vidprobe/backbones/wan/config.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {

FlowUniPcOptions t2v_sampler_options(double flow_shift) {
  FlowUniPcOptions options;
  options.flow_shift = flow_shift;
  options.num_train_timesteps = kNumTrainTimesteps;
  options.solver_order = 2;
  options.variant = UniPcVariant::kBh2;
  options.lower_order_final = true;
  options.final_sigma = FinalSigma::kZero;
  return options;
}

torch::Tensor sample_latents(const Transformer& transformer, const torch::Tensor& latents,
                             const torch::Tensor& context, const torch::Tensor& negative_context,
                             const SamplingOptions& options) {
  const bool guided = options.guidance_scale > 1.0;
  require(context.defined() && (!guided || negative_context.defined()),
          "WAN sampling: needs a text context, and a negative one when guidance_scale > 1");
  torch::NoGradGuard no_grad;
  const auto embedded = transformer.embed_context(context);
  const auto embedded_negative =
      guided ? transformer.embed_context(negative_context) : torch::Tensor();
  const VelocityModel model = [&](const torch::Tensor& x, const torch::Tensor& timesteps,
                                  Guidance which) {
    const auto& text = which == Guidance::kConditional ? embedded : embedded_negative;
    return transformer.run(x, timesteps, text, {}, true).prediction;
  };
  return backbones::sample_latents(model, latents, options);
}

}  // namespace vidprobe::backbones::wan
