#include "vidprobe/nn/patch_embed.h"

#include "vidprobe/core/error.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::nn {

torch::Tensor embed_patches(const torch::Tensor& input, const torch::Tensor& weight,
                            const torch::Tensor& bias) {
  const int64_t axes = weight.dim() - 2;
  require(axes >= 1 && input.dim() == weight.dim() && input.size(1) == weight.size(1),
          "patch embedding: input " + c10::str(input.sizes()) + " does not match the weight " +
              c10::str(weight.sizes()) + " ((B, C, spatial...) against (D, C, kernel...))");
  // Views only, whatever the input's strides: each spatial axis S split into (cells, kernel),
  // giving (B, C, n1, K1, ..., nk, Kk).
  auto split = input;
  std::vector<int64_t> order{0}, patch_order{1};
  int64_t patches = 1;
  for (int64_t a = 0; a < axes; ++a) {
    const int64_t kernel = weight.size(2 + a), cells = input.size(2 + a) / kernel;
    require(cells > 0, "patch embedding: input " + c10::str(input.sizes()) +
                           " is smaller than one patch of " + c10::str(weight.sizes()));
    const int64_t axis = 2 + 2 * a;
    split = split.narrow(axis, 0, cells * kernel).unflatten(axis, {cells, kernel});
    order.push_back(axis);
    patch_order.push_back(axis + 1);
    patches *= cells;
  }
  // -> (B, n1, ..., nk, C, K1, ..., Kk): patches in grid order, each patch's pixels in the
  // weight's (C, K1, ..., Kk) order; the one copy.
  order.insert(order.end(), patch_order.begin(), patch_order.end());
  const auto tokens = split.permute(order).reshape({input.size(0), patches, weight[0].numel()});
  count_linear_flops(tokens, weight.size(0));
  return torch::linear(tokens, weight.reshape({weight.size(0), -1}), bias);
}

}  // namespace vidprobe::nn
