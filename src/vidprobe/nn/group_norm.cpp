#include "vidprobe/nn/group_norm.h"

#include <string>

#include "vidprobe/core/error.h"

namespace vidprobe::nn {

torch::Tensor group_norm(const torch::Tensor& x, int64_t groups, const torch::Tensor& weight,
                         const torch::Tensor& bias, double eps) {
  require(x.dim() >= 2 && groups >= 1 && x.size(1) % groups == 0,
          "GroupNorm of " + std::to_string(groups) +
              " groups needs input (N, C, ...) with C a multiple of the groups, got " +
              c10::str(x.sizes()));
  const int64_t batch = x.size(0), channels = x.size(1);
  std::vector<int64_t> per_channel(static_cast<std::size_t>(x.dim()), 1);
  per_channel[0] = batch;
  per_channel[1] = channels;
  const auto grouped = x.reshape({batch, groups, -1});
  const auto [variance, mean] =
      torch::var_mean(grouped.to(torch::kFloat32), {-1}, /*correction=*/0, /*keepdim=*/true);
  // (N, G, 1) -> (N, C): every channel of a group shares its group's statistics.
  const auto to_channels = [&](const torch::Tensor& per_group) {
    return per_group.expand({batch, groups, channels / groups}).reshape({batch, channels});
  };
  const auto inverse_std = (variance + eps).rsqrt();
  auto scale = to_channels(inverse_std);
  auto shift = to_channels(-mean * inverse_std);
  if (weight.defined()) {
    scale = scale * weight.to(torch::kFloat32);
    shift = shift * weight.to(torch::kFloat32);
  }
  if (bias.defined()) shift = shift + bias.to(torch::kFloat32);
  return torch::addcmul(shift.view(per_channel), x, scale.view(per_channel)).to(x.scalar_type());
}

}  // namespace vidprobe::nn
