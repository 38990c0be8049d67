#include "vidprobe/nn/head_activation.h"

#include "vidprobe/core/error.h"

namespace vidprobe::nn {

torch::Tensor inverse_log_transform(const torch::Tensor& y) {
  return torch::sign(y) * torch::expm1(torch::abs(y));
}

std::pair<torch::Tensor, torch::Tensor> activate_dense_head(const torch::Tensor& raw,
                                                            const std::string& activation,
                                                            const std::string& conf_activation) {
  const auto map = raw.permute({0, 2, 3, 1});
  const int64_t channels = map.size(-1);
  const auto values = map.slice(-1, 0, channels - 1);
  const auto conf = map.select(-1, channels - 1);

  torch::Tensor out;
  if (activation == "inv_log") {
    out = inverse_log_transform(values);
  } else if (activation == "exp") {
    out = torch::exp(values);
  } else if (activation == "linear") {
    out = values;
  } else if (activation == "norm_exp") {
    const auto length = values.norm(2, -1, true).clamp_min(1e-8);
    out = values / length * torch::expm1(length);
  } else {
    throw Error("probe: unknown head activation '" + activation + "'");
  }

  torch::Tensor confidence;
  if (conf_activation == "expp1") {
    confidence = 1 + torch::exp(conf);
  } else if (conf_activation == "expp0") {
    confidence = torch::exp(conf);
  } else if (conf_activation == "sigmoid") {
    confidence = torch::sigmoid(conf);
  } else {
    throw Error("probe: unknown confidence activation '" + conf_activation + "'");
  }
  return {out, confidence};
}

torch::Tensor activate_pose_encoding(const torch::Tensor& raw) {
  return torch::cat({raw.slice(-1, 0, 7), torch::relu(raw.slice(-1, 7, 9))}, -1);
}

}  // namespace vidprobe::nn
