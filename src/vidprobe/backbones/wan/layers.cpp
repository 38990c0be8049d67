#include "vidprobe/backbones/wan/layers.h"

namespace vidprobe::backbones::wan {

void add_linear(Parameters& params, const std::string& prefix, int64_t in, int64_t out, bool bias,
                bool float32) {
  params.add(prefix + ".weight", {out, in}, float32 ? ParamKind::kFloat32 : ParamKind::kWeight);
  if (bias)
    params.add(prefix + ".bias", {out}, float32 ? ParamKind::kFloat32Bias : ParamKind::kBias);
}

torch::Tensor linear(const Parameters& params, const std::string& prefix, const torch::Tensor& x,
                     bool bias) {
  const auto& weight = params[prefix + ".weight"];
  if (!bias) return torch::linear(x.to(weight.scalar_type()), weight);
  return torch::linear(x.to(weight.scalar_type()), weight, params[prefix + ".bias"]);
}

torch::Tensor layer_norm_f32(const torch::Tensor& x, double eps) {
  return torch::layer_norm(x.to(torch::kFloat32), {x.size(-1)}, {}, {}, eps);
}

torch::Tensor layer_norm_f32(const Parameters& params, const std::string& prefix,
                             const torch::Tensor& x, double eps) {
  return torch::layer_norm(x.to(torch::kFloat32), {x.size(-1)}, params[prefix + ".weight"],
                           params[prefix + ".bias"], eps);
}

torch::Tensor rms_norm(const Parameters& params, const std::string& prefix, const torch::Tensor& x,
                       double eps) {
  // One fused kernel (float32 statistics inside) instead of the reference's chain of
  // elementwise ops; for bf16 it rounds once instead of twice.
  return at::rms_norm(x, {x.size(-1)}, params[prefix + ".weight"].to(x.scalar_type()), eps);
}

}  // namespace vidprobe::backbones::wan
