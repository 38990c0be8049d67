#include "vidprobe/probe/fused_adamw.h"

namespace vidprobe::probe {
namespace {

// ATen has the fused kernel for CUDA and for the CPU (PyTorch's AdamW(fused=True) on either). On
// the CPU it matters as much as on the GPU: LibTorch's loop reads and writes every parameter,
// gradient and moment about ten times a step (one pass per op), the fused kernel once, and the
// paper's probe has 383 M parameters.
bool all_on_fused_device(const torch::optim::OptimizerParamGroup& group) {
  if (group.params().empty()) return false;
  const auto device = group.params().front().device();
  if (!device.is_cuda() && !device.is_cpu()) return false;
  for (const auto& p : group.params())
    if (p.device() != device || p.is_sparse() || !at::isFloatingType(p.scalar_type())) return false;
  return true;
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  for (const auto& group : param_groups())
    if (!all_on_fused_device(group) ||
        static_cast<const torch::optim::AdamWOptions&>(group.options()).amsgrad())
      return AdamW::step(std::move(closure));
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const void* key = p.unsafeGetTensorImpl();
      auto& slot = state_[const_cast<void*>(key)];
      if (!slot) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*slot);
      auto& device_step = device_steps_[key];
      if (!device_step.defined())  // first step, or after a checkpoint restored the state
        device_step = torch::full({}, static_cast<double>(state.step()),
                                  torch::TensorOptions().dtype(torch::kFloat32).device(p.device()));
      state.step(state.step() + 1);
      params.push_back(p);
      grads.push_back(p.grad());
      exp_avgs.push_back(state.exp_avg());
      exp_avg_sqs.push_back(state.exp_avg_sq());
      steps.push_back(device_step);
    }
    if (params.empty()) continue;
    at::_foreach_add_(steps, 1);
    const auto [beta1, beta2] = o.betas();
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, {}, steps, o.lr(), beta1, beta2,
                      o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false);
  }
  return loss;
}

}  // namespace vidprobe::probe
