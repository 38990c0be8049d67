#pragma once
// Dense read-out head in the DPT style (Ranftl et al. 2021; VGGT's DPTHead): four intermediate
// token maps of the aggregator are normalised, projected by 1x1 convolutions and reassembled at
// four scales (x4, x2, x1, x1/2 of the token grid), fused coarse-to-fine by residual refinement
// blocks, upsampled to the ground-truth resolution H x W and mapped to C values + 1 confidence.
#include <torch/torch.h>

#include <vector>

#include "vidprobe/nn/head_config.h"

namespace vidprobe::nn {

// Which of num_blocks intermediate outputs feed the four DPT levels: evenly spread, the last
// one always included (for 4 blocks: 0, 1, 2, 3; VGGT's 24 layers use 4, 11, 17, 23, which its
// configuration lists explicitly).
std::vector<int> dpt_layer_indices(int num_blocks);
// The levels a head reads: the configuration's list, or dpt_layer_indices.
std::vector<int> dense_head_layers(const DenseHeadConfig& head, int num_blocks);

// VGGT's sinusoidal embedding of a UV grid normalised by the image diagonal, (C, h, w) for an
// h x w map of an image with aspect ratio width / height.
torch::Tensor uv_position_embedding(int64_t channels, int64_t h, int64_t w, double aspect_ratio,
                                    const torch::TensorOptions& options);

// x + conv2(relu(conv1(relu(x)))). With skip_from_activation the skip carries relu(x) instead:
// the released VGGT's (and MiDaS') ResidualConvUnit applies nn.ReLU(inplace=True) to its input
// before the skip is added, so the sum it computes is relu(x) + conv2(...). Then, as there, x
// itself is activated in place: the caller must not read it again (DptHead's fusion passes
// tensors it does not). Activating in place also spares an allocation of a feature map's size,
// whose page faults the CPU pays on every fresh output.
struct ResidualConvUnitImpl : torch::nn::Module {
  explicit ResidualConvUnitImpl(int64_t features, bool skip_from_activation = false);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  bool skip_from_activation;
};
TORCH_MODULE(ResidualConvUnit);

struct FusionBlockImpl : torch::nn::Module {
  FusionBlockImpl(int64_t features, bool has_residual, bool skip_from_activation = false);
  // coarse: the running fused map; skip: this level's map (ignored without residual). The result
  // is resized to size when given, else upsampled x2, and passed through out_conv (1 x 1; applied
  // on the side of the resize with fewer pixels, equal up to rounding). With skip_from_activation
  // the residual units activate their input in place: skip, and coarse when there is no residual
  // unit.
  torch::Tensor forward(const torch::Tensor& coarse, const torch::Tensor& skip,
                        const std::vector<int64_t>& size);
  ResidualConvUnit unit1{nullptr}, unit2{nullptr};
  torch::nn::Conv2d out_conv{nullptr};
};
TORCH_MODULE(FusionBlock);

struct DptHeadImpl : torch::nn::Module {
  // dim_in: width of the aggregator's intermediates (2 D); output_dim: values + 1 confidence.
  // config.relu_skip: VGGT's residual units (see ResidualConvUnitImpl).
  DptHeadImpl(const DenseHeadConfig& config, int64_t dim_in, int64_t output_dim, int num_blocks,
              std::string activation, std::string conf_activation);
  // intermediates (B, S, P, dim_in) each -> values (B, S, H, W, output_dim - 1), conf (B, S, H, W).
  std::pair<torch::Tensor, torch::Tensor> forward(const std::vector<torch::Tensor>& intermediates,
                                                  int64_t patch_start, int64_t h, int64_t w,
                                                  int64_t height, int64_t width);

  DenseHeadConfig config;
  std::vector<int> layer_indices;
  std::string activation, conf_activation;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::ModuleList projects, resize_layers, level_convs, refine;
  torch::nn::Conv2d output_conv1{nullptr};
  torch::nn::Sequential output_conv2{nullptr};
};
TORCH_MODULE(DptHead);

}  // namespace vidprobe::nn
