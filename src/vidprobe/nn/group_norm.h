#pragma once
// The one GroupNorm: torch::nn::GroupNorm's parameters, names, options and initialisation, with a
// forward that keeps the whole GPU busy. ATen's CUDA group_norm computes each (sample, group)'s
// statistics in one thread block (RowwiseMomentsCUDAKernel): a video VAE at batch 1 has 32 such
// rows of millions of elements, so 32 blocks run while the rest of the GPU idles; it was 30 % of
// CogVideoX-2B's whole extraction on an H200 (docs/perf.md, "The video VAEs' GroupNorm"). Here the
// statistics come from var_mean, a reduction that splits long rows over many blocks, and the
// affine map is applied as x * a + b with per-(sample, channel) a = gamma / std and
// b = beta - mean * a, the form ATen's own kernels apply.
#include <torch/torch.h>

namespace vidprobe::nn {

// x (N, C, ...) -> GroupNorm(x); statistics (biased variance) in float32 whatever x's dtype, the
// result in x's dtype. weight and bias may be undefined (no affine map).
torch::Tensor group_norm(const torch::Tensor& x, int64_t groups, const torch::Tensor& weight,
                         const torch::Tensor& bias, double eps);

struct GroupNormImpl : torch::nn::GroupNormImpl {
  using torch::nn::GroupNormImpl::GroupNormImpl;
  torch::Tensor forward(const torch::Tensor& input) {
    return group_norm(input, options.num_groups(), weight, bias, options.eps());
  }
};
TORCH_MODULE(GroupNorm);

}  // namespace vidprobe::nn
