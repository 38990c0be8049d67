#pragma once
// AdamW whose step is ATen's fused multi-tensor kernel (_fused_adamw_, what PyTorch's
// AdamW(fused=True) runs) on CUDA and on the CPU: on the GPU one launch for all parameters instead
// of LibTorch's loop of about seven kernels per parameter (2,000 launches a step for the paper's
// probe), on the CPU one pass over each parameter's memory instead of seven. Same algorithm
// (decoupled weight decay, bias-corrected moments) and the same per-parameter state
// (AdamWParamState), so checkpoints do not change; other devices, mixed devices, and AMSGrad keep
// LibTorch's loop.
#include <torch/torch.h>

#include <unordered_map>

namespace vidprobe::probe {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;

 private:
  // Per parameter: its step count as a float32 device scalar, as the fused kernel reads it.
  std::unordered_map<const void*, torch::Tensor> device_steps_;
};

}  // namespace vidprobe::probe
