#pragma once
// Activation (gradient) checkpointing, what torch.utils.checkpoint does for the authors' probe
// trunk: a function's intermediate activations are not kept for the backward pass; the backward
// pass runs the function again from its saved input, under the same autocast state, and
// differentiates that replay. It trades one more forward pass of the function for its activations'
// memory (the paper's probe at batch 10: the difference between fitting an 80 GB GPU or not).
//
// It is torch.utils.checkpoint's reentrant form (use_reentrant=True; the authors' trunk uses the
// other form, which computes the same gradients): the replay's backward pass adds the
// parameters' gradients to their .grad itself, so their hooks fire once, during it, and the
// autograd graph reaches the replay through the input alone. So an input that needs no gradient
// gets no checkpointing (the function runs with its graph kept, as without): there would be no
// backward pass to replay in. The function must be deterministic (no dropout, no random draws):
// the replay must compute what the first pass computed. No second derivative: a backward pass
// with create_graph through it throws. Outside grad mode (evaluation, no_grad) the function just
// runs.
#include <torch/torch.h>

#include <functional>

namespace vidprobe::nn {

using CheckpointedFunction = std::function<torch::Tensor(const torch::Tensor&)>;

torch::Tensor checkpointed(CheckpointedFunction function, const torch::Tensor& input);

}  // namespace vidprobe::nn
