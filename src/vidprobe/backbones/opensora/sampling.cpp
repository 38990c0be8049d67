#include "vidprobe/backbones/opensora/sampling.h"

#include <string>

#include "vidprobe/core/error.h"

namespace vidprobe::backbones::opensora {

std::vector<double> sampling_timesteps(int steps, const std::vector<int64_t>& latent_grid) {
  require(steps > 0, "opensora sampler: steps must be positive, got " + std::to_string(steps));
  require(latent_grid.size() == 3, "opensora sampler: the latent grid must be (T', H', W')");
  const double alpha = shift_alpha(latent_grid[0], latent_grid[1], latent_grid[2]);
  // torch.linspace in float32, as the official list is made (its values, not i / steps, are
  // what the shift reads); time_shift then runs in float32 as on that tensor.
  const auto unshifted = torch::linspace(1.0, 0.0, steps + 1, torch::kFloat32);
  std::vector<double> timesteps;
  timesteps.reserve(static_cast<std::size_t>(steps) + 1);
  for (int i = 0; i <= steps; ++i)
    timesteps.push_back(
        shifted_time(unshifted[i].item<double>(), alpha, torch::kFloat32).item<double>());
  return timesteps;
}

torch::Tensor sample_latents(OpenSoraBackbone& backbone, const torch::Tensor& noise,
                             const torch::Tensor& condition, const std::vector<double>& timesteps) {
  require(timesteps.size() >= 2, "opensora sampler: the schedule needs at least two times");
  require(noise.dim() == 5 && condition.dim() == 5 && condition.size(1) == noise.size(1) + 1,
          "opensora sampler: noise (1, C, T', h, w) and condition (1, C + 1, T', h, w) expected, "
          "got " +
              c10::str(noise.sizes()) + " and " + c10::str(condition.sizes()));
  torch::NoGradGuard no_grad;
  const auto dtype = backbone.compute_dtype();
  // The official img is drawn in the model's dtype and stepped in it.
  auto x = noise.to(dtype);
  for (std::size_t i = 0; i + 1 < timesteps.size(); ++i) {
    const double t_curr = timesteps[i], t_prev = timesteps[i + 1];
    // torch.full((B,), t_curr, dtype=img.dtype): the float32 time rounded to the model's dtype.
    const auto ts = torch::full({noise.size(0)}, t_curr, torch::TensorOptions().dtype(dtype));
    const auto v = backbone.velocity(x, condition, ts);
    x = x.to(v.device()) + (t_prev - t_curr) * v.to(dtype);
  }
  // api_fn's i2v_head: x[0, :, :1] = the reference latent, before decoding.
  x.slice(2, 0, 1).copy_(condition.slice(1, 1).slice(2, 0, 1));
  return x.to(torch::kFloat32);
}

}  // namespace vidprobe::backbones::opensora
