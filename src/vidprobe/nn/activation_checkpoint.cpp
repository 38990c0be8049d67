#include "vidprobe/nn/activation_checkpoint.h"

#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <utility>

#include "vidprobe/core/error.h"

namespace vidprobe::nn {
namespace {

// The per-call state the backward pass needs besides the saved input (an autograd node keeps
// non-tensor state only as IValues; a capsule carries this one).
struct Replay : torch::CustomClassHolder {
  CheckpointedFunction function;
  at::DeviceType device_type = at::kCPU;
  bool autocast = false;
  at::ScalarType autocast_dtype = at::kBFloat16;
};

// Sets a device type's autocast state for its lifetime, restoring the previous one after, and
// leaves as torch.autocast's context does: the outermost exit empties the thread's cache of
// low-precision weight copies. The backward pass may run on another thread than the training
// loop (CUDA's device threads), whose cache nothing else empties: a kept copy would feed the next
// step's replay the weights from before the optimiser step.
class AutocastState {
 public:
  AutocastState(at::DeviceType device_type, bool enabled, at::ScalarType dtype)
      : device_type_(device_type),
        previous_enabled_(at::autocast::is_autocast_enabled(device_type)),
        previous_dtype_(at::autocast::get_autocast_dtype(device_type)) {
    at::autocast::set_autocast_enabled(device_type, enabled);
    at::autocast::set_autocast_dtype(device_type, dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastState() {
    at::autocast::set_autocast_enabled(device_type_, previous_enabled_);
    at::autocast::set_autocast_dtype(device_type_, previous_dtype_);
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  }
  AutocastState(const AutocastState&) = delete;
  AutocastState& operator=(const AutocastState&) = delete;

 private:
  at::DeviceType device_type_;
  bool previous_enabled_;
  at::ScalarType previous_dtype_;
};

struct CheckpointFunction : torch::autograd::Function<CheckpointFunction> {
  // Runs without grad mode (apply turns it off), so the function's graph and activations are
  // dropped as soon as its output exists.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const c10::intrusive_ptr<Replay>& replay,
                               const torch::Tensor& input) {
    ctx->save_for_backward({input});
    ctx->saved_data["replay"] = c10::IValue::make_capsule(replay);
    return replay->function(input);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    require(!torch::GradMode::is_enabled(),
            "activation checkpointing: a checkpointed layer has no second derivative "
            "(backward with create_graph); turn gradient checkpointing off for that");
    const auto replay =
        c10::static_intrusive_pointer_cast<Replay>(ctx->saved_data["replay"].toCapsule());
    const auto input = ctx->get_saved_variables().at(0);
    auto replay_input = input.detach().requires_grad_(true);
    torch::Tensor output;
    {
      torch::AutoGradMode grad_mode(true);
      AutocastState autocast(replay->device_type, replay->autocast, replay->autocast_dtype);
      output = replay->function(replay_input);
    }
    // The replay's own backward pass adds the parameters' gradients to their .grad (their hooks
    // fire once, there); the input's is handed back (the Replay argument gets none).
    torch::autograd::backward({output}, {grad_outputs.at(0)});
    return {torch::Tensor(), replay_input.grad()};
  }
};

}  // namespace

torch::Tensor checkpointed(CheckpointedFunction function, const torch::Tensor& input) {
  if (!torch::GradMode::is_enabled() || !input.requires_grad()) return function(input);
  auto replay = c10::make_intrusive<Replay>();
  replay->function = std::move(function);
  replay->device_type = input.device().type();
  replay->autocast = at::autocast::is_autocast_enabled(replay->device_type);
  replay->autocast_dtype = at::autocast::get_autocast_dtype(replay->device_type);
  return CheckpointFunction::apply(replay, input);
}

}  // namespace vidprobe::nn
