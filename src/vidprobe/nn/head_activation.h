#pragma once
// Output activations of the probe's heads, as VGGT's head_act:
//   values:     inv_log  sign(y) (exp|y| - 1)   (points: linear near 0, log-compressed far out)
//               exp      exp(y)                 (depth: positive)
//               linear   y
//               norm_exp y / |y| * (exp|y| - 1) (a vector's direction kept, its length expanded)
//   confidence: expp1    1 + exp(c)             (>= 1, so -log(conf) <= 0 never rewards shrinking)
//               expp0    exp(c)
//               sigmoid  sigmoid(c)
//   pose:       translation and quaternion linear, field of view relu (non-negative).
#include <torch/torch.h>

#include <string>
#include <utility>

namespace vidprobe::nn {

torch::Tensor inverse_log_transform(const torch::Tensor& y);

// raw (N, C + 1, H, W) -> values (N, H, W, C) and confidence (N, H, W).
std::pair<torch::Tensor, torch::Tensor> activate_dense_head(const torch::Tensor& raw,
                                                            const std::string& activation,
                                                            const std::string& conf_activation);

// raw (..., 9) absT_quaR_FoV -> activated encoding.
torch::Tensor activate_pose_encoding(const torch::Tensor& raw);

}  // namespace vidprobe::nn
