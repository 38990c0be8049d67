#include "vidprobe/nn/dpt_head.h"

#include <cmath>

#include "vidprobe/core/error.h"
#include "vidprobe/nn/bilinear_resize.h"
#include "vidprobe/nn/fused_conv_bias.h"
#include "vidprobe/nn/head_activation.h"

namespace vidprobe::nn {
namespace tnn = torch::nn;

std::vector<int> dpt_layer_indices(int num_blocks) {
  std::vector<int> indices;
  for (int level = 0; level < 4; ++level)
    indices.push_back(static_cast<int>(std::lround(level * (num_blocks - 1) / 3.0)));
  return indices;
}

std::vector<int> dense_head_layers(const DenseHeadConfig& head, int num_blocks) {
  return head.layers.empty() ? dpt_layer_indices(num_blocks) : head.layers;
}

namespace {

// (N) positions -> (N, dim) [sin, cos] with frequencies omega_0^(-i / (dim/2)).
torch::Tensor sincos_1d(const torch::Tensor& positions, int64_t dim) {
  const int64_t half = dim / 2;
  const auto omega =
      torch::pow(100.0, -torch::arange(half, positions.options()) / static_cast<double>(half));
  const auto angles = positions.unsqueeze(-1) * omega;
  return torch::cat({angles.sin(), angles.cos()}, -1);
}

}  // namespace

torch::Tensor uv_position_embedding(int64_t channels, int64_t h, int64_t w, double aspect_ratio,
                                    const torch::TensorOptions& options) {
  const double diagonal = std::sqrt(aspect_ratio * aspect_ratio + 1.0);
  const double span_x = aspect_ratio / diagonal, span_y = 1.0 / diagonal;
  const auto f32 = options.dtype(torch::kFloat32);
  const auto xs = torch::linspace(-span_x * (w - 1) / w, span_x * (w - 1) / w, w, f32);
  const auto ys = torch::linspace(-span_y * (h - 1) / h, span_y * (h - 1) / h, h, f32);
  // Built for the next multiple of 4 channels (x and y halves, each sin and cos) and cut to size.
  const int64_t padded = (channels + 3) / 4 * 4;
  const auto ex = sincos_1d(xs, padded / 2);  // (w, padded/2)
  const auto ey = sincos_1d(ys, padded / 2);  // (h, padded/2)
  const auto grid = torch::cat(
      {ex.unsqueeze(0).expand({h, w, padded / 2}), ey.unsqueeze(1).expand({h, w, padded / 2})}, -1);
  return grid.slice(-1, 0, channels).permute({2, 0, 1}).to(options.dtype());
}

ResidualConvUnitImpl::ResidualConvUnitImpl(int64_t features, bool skip_from_activation_)
    : conv1(register_module("conv1",
                            tnn::Conv2d(tnn::Conv2dOptions(features, features, 3).padding(1)))),
      conv2(register_module("conv2",
                            tnn::Conv2d(tnn::Conv2dOptions(features, features, 3).padding(1)))),
      skip_from_activation(skip_from_activation_) {}

torch::Tensor ResidualConvUnitImpl::forward(const torch::Tensor& x) {
  // In place where nothing reads the input again (ReLU's backward reads its output; a
  // convolution's backward reads its input, not its output).
  const auto activated = skip_from_activation ? x.relu_() : torch::relu(x);
  return conv2d_bias_residual(*conv2, conv2d_bias_relu(*conv1, activated),
                              skip_from_activation ? activated : x);
}

FusionBlockImpl::FusionBlockImpl(int64_t features, bool has_residual, bool skip_from_activation) {
  if (has_residual)
    unit1 = register_module("unit1", ResidualConvUnit(features, skip_from_activation));
  unit2 = register_module("unit2", ResidualConvUnit(features, skip_from_activation));
  out_conv = register_module("out_conv", tnn::Conv2d(tnn::Conv2dOptions(features, features, 1)));
}

torch::Tensor FusionBlockImpl::forward(const torch::Tensor& coarse, const torch::Tensor& skip,
                                       const std::vector<int64_t>& size) {
  auto out = coarse;
  if (unit1) out = out + unit1(skip);
  out = unit2(out);
  const std::vector<int64_t> target =
      size.empty() ? std::vector<int64_t>{out.size(2) * 2, out.size(3) * 2} : size;
  // out_conv is 1 x 1 and every bilinear output pixel is an affine combination of input pixels
  // (weights summing to 1), so convolving before or after the resize gives the same map up to
  // rounding. The reference convolves after; convolving on the smaller side does the
  // convolution, its bias and their gradients on a quarter of the pixels in the x2 case.
  if (target[0] * target[1] > out.size(2) * out.size(3))
    return resize_bilinear_aligned(out_conv(out), target[0], target[1]);
  return out_conv(resize_bilinear_aligned(out, target[0], target[1]));
}

DptHeadImpl::DptHeadImpl(const DenseHeadConfig& cfg, int64_t dim_in, int64_t output_dim,
                         int num_blocks, std::string activation_, std::string conf_activation_)
    : config(cfg),
      layer_indices(dense_head_layers(cfg, num_blocks)),
      activation(std::move(activation_)),
      conf_activation(std::move(conf_activation_)) {
  require(config.out_channels.size() == 4, "dpt head: out_channels must list 4 levels");
  const auto& oc = config.out_channels;
  const int64_t features = config.features;
  norm = register_module("norm", tnn::LayerNorm(tnn::LayerNormOptions({dim_in})));
  for (int level = 0; level < 4; ++level)
    projects->push_back(tnn::Conv2d(tnn::Conv2dOptions(dim_in, oc[level], 1)));
  resize_layers->push_back(
      tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(oc[0], oc[0], 4).stride(4)));
  resize_layers->push_back(
      tnn::ConvTranspose2d(tnn::ConvTranspose2dOptions(oc[1], oc[1], 2).stride(2)));
  resize_layers->push_back(tnn::Identity());
  resize_layers->push_back(tnn::Conv2d(tnn::Conv2dOptions(oc[3], oc[3], 3).stride(2).padding(1)));
  for (int level = 0; level < 4; ++level)
    level_convs->push_back(
        tnn::Conv2d(tnn::Conv2dOptions(oc[level], features, 3).padding(1).bias(false)));
  for (int level = 0; level < 4; ++level)
    refine->push_back(FusionBlock(features, /*has_residual=*/level != 3, config.relu_skip));
  register_module("projects", projects);
  register_module("resize_layers", resize_layers);
  register_module("level_convs", level_convs);
  register_module("refine", refine);
  output_conv1 = register_module(
      "output_conv1", tnn::Conv2d(tnn::Conv2dOptions(features, features / 2, 3).padding(1)));
  output_conv2 = register_module(
      "output_conv2",
      tnn::Sequential(tnn::Conv2d(tnn::Conv2dOptions(features / 2, 32, 3).padding(1)),
                      tnn::ReLU(tnn::ReLUOptions().inplace(true)),
                      tnn::Conv2d(tnn::Conv2dOptions(32, output_dim, 1))));
}

std::pair<torch::Tensor, torch::Tensor> DptHeadImpl::forward(
    const std::vector<torch::Tensor>& intermediates, int64_t patch_start, int64_t h, int64_t w,
    int64_t height, int64_t width) {
  // Only the four read layers need be defined (a frame-chunked caller passes just those).
  const auto& first = intermediates.at(static_cast<std::size_t>(layer_indices[0]));
  const int64_t B = first.size(0), S = first.size(1);
  const double aspect = static_cast<double>(width) / static_cast<double>(height);

  std::vector<torch::Tensor> levels;
  for (int level = 0; level < 4; ++level) {
    const auto& tokens = intermediates.at(static_cast<std::size_t>(layer_indices[level]));
    auto x = tokens.slice(2, patch_start).reshape({B * S, h * w, tokens.size(3)});
    x = norm(x).permute({0, 2, 1}).reshape({B * S, tokens.size(3), h, w});
    x = projects[level]->as<tnn::Conv2d>()->forward(x);
    if (config.pos_embed)
      x = x + 0.1 * uv_position_embedding(x.size(1), h, w, aspect, x.options()).unsqueeze(0);
    if (level == 0) x = resize_layers[0]->as<tnn::ConvTranspose2d>()->forward(x);
    if (level == 1) x = resize_layers[1]->as<tnn::ConvTranspose2d>()->forward(x);
    if (level == 3) x = resize_layers[3]->as<tnn::Conv2d>()->forward(x);
    levels.push_back(level_convs[level]->as<tnn::Conv2d>()->forward(x));
  }

  auto size_of = [](const torch::Tensor& t) { return std::vector<int64_t>{t.size(2), t.size(3)}; };
  auto fused = refine[3]->as<FusionBlock>()->forward(levels[3], {}, size_of(levels[2]));
  fused = refine[2]->as<FusionBlock>()->forward(fused, levels[2], size_of(levels[1]));
  fused = refine[1]->as<FusionBlock>()->forward(fused, levels[1], size_of(levels[0]));
  fused = refine[0]->as<FusionBlock>()->forward(fused, levels[0], {});
  fused = output_conv1(fused);
  fused = resize_bilinear_aligned(fused, height, width);
  if (config.pos_embed)
    fused =
        fused + 0.1 * uv_position_embedding(fused.size(1), height, width, aspect, fused.options())
                          .unsqueeze(0);
  // output_conv2 is (3 x 3 convolution, ReLU, 1 x 1 convolution), its bias taken with the ReLU.
  auto& hidden_conv = *output_conv2->ptr<tnn::Conv2dImpl>(0);
  auto& value_conv = *output_conv2->ptr<tnn::Conv2dImpl>(2);
  const auto raw = value_conv.forward(conv2d_bias_relu(hidden_conv, fused));
  auto [values, conf] = activate_dense_head(raw, activation, conf_activation);
  return {values.reshape({B, S, height, width, values.size(-1)}),
          conf.reshape({B, S, height, width})};
}

}  // namespace vidprobe::nn
