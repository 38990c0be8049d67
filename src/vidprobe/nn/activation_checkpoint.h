#pragma once
// Activation (gradient) checkpointing, what torch.utils.checkpoint does for the authors' probe
// trunk: a function's intermediate activations are not kept for the backward pass; the backward
// pass runs the function again from its saved input, under the same autocast state, and
// differentiates that replay. It trades one more forward pass of the function for its activations'
// memory (the paper's probe at batch 10: the difference between fitting an 80 GB GPU or not).
//
// The function must be deterministic (no dropout, no random draws): the replay must compute what
// the first pass computed. The parameters it reads must be passed, so their gradients flow even
// when the input needs none. Outside grad mode (evaluation, no_grad) the function just runs.
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace vidprobe::nn {

using CheckpointedFunction = std::function<torch::Tensor(const torch::Tensor&)>;

torch::Tensor checkpointed(CheckpointedFunction function, const torch::Tensor& input,
                           const std::vector<torch::Tensor>& parameters);

}  // namespace vidprobe::nn
