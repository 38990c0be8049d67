#include "vidprobe/dist/gradient_sync.h"

#include "vidprobe/core/error.h"

namespace vidprobe::dist {

void broadcast_module(const Group& group, torch::nn::Module& module) {
  if (!group.distributed()) return;
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.parameters()) group.broadcast(parameter);
  for (auto& buffer : module.buffers()) group.broadcast(buffer);
}

GradientSync::GradientSync(Group group, const std::vector<torch::Tensor>& parameters,
                           std::size_t bucket_bytes)
    : group_(std::move(group)) {
  if (!group_.distributed()) return;
  build_buckets(parameters, bucket_bytes);
  for (std::size_t i = 0; i < slots_.size(); ++i)
    slots_[i].hook = slots_[i].parameter.register_hook(
        [this, i](const torch::Tensor& gradient) { on_gradient(i, gradient); });
}

GradientSync::~GradientSync() {
  for (auto& slot : slots_) slot.parameter.remove_hook(slot.hook);
}

// Last parameter first (the order the backward pass produces gradients in); a new bucket when
// the current one would pass bucket_bytes or the dtype/device changes.
void GradientSync::build_buckets(const std::vector<torch::Tensor>& parameters,
                                 std::size_t bucket_bytes) {
  std::vector<int64_t> sizes;
  torch::TensorOptions bucket_options;
  std::size_t bytes = 0;
  const auto close_bucket = [&] {
    if (sizes.empty()) return;
    int64_t total = 0;
    for (auto s : sizes) total += s;
    buckets_.push_back({torch::zeros({total}, bucket_options), 0, false, {}});
    sizes.clear();
    bytes = 0;
  };
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    if (!it->requires_grad()) continue;
    require(it->device() == group_.device(),
            "data-parallel training: parameters are on " + it->device().str() +
                " but the process group's tensors on " + group_.device().str());
    const auto options = it->options();
    const auto size = static_cast<std::size_t>(it->numel() * it->element_size());
    if (!sizes.empty() &&
        (bytes + size > bucket_bytes || options.dtype() != bucket_options.dtype()))
      close_bucket();
    if (sizes.empty()) bucket_options = options;
    int64_t offset = 0;
    for (auto s : sizes) offset += s;
    slots_.push_back({*it, buckets_.size(), offset, false, 0});
    sizes.push_back(it->numel());
    bytes += size;
  }
  close_bucket();
}

void GradientSync::arm() {
  if (!group_.distributed()) return;
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_) slot.ready = false;
  for (auto& bucket : buckets_) {
    bucket.pending = 0;
    bucket.started = false;
  }
  for (const auto& slot : slots_) ++buckets_[slot.bucket].pending;
  next_bucket_ = 0;
  armed_ = true;
}

void GradientSync::on_gradient(std::size_t index, const torch::Tensor& gradient) {
  std::lock_guard lock(mutex_);
  if (!armed_) return;
  auto& slot = slots_[index];
  if (slot.ready) return;
  auto& bucket = buckets_[slot.bucket];
  auto view = bucket.buffer.narrow(0, slot.offset, slot.parameter.numel());
  // The hook sees this pass's gradient before it is added to .grad, which holds the earlier
  // micro-batches' sum.
  const auto& accumulated = slot.parameter.grad();
  torch::NoGradGuard no_grad;
  if (accumulated.defined())
    torch::add_out(view, accumulated.reshape({-1}), gradient.reshape({-1}));
  else
    view.copy_(gradient.reshape({-1}));
  slot.ready = true;
  --bucket.pending;
  start_ready_buckets();
}

void GradientSync::start_ready_buckets() {
  while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].pending == 0) {
    auto& bucket = buckets_[next_bucket_++];
    bucket.reduction = group_.all_reduce_sum_async(bucket.buffer);
    bucket.started = true;
  }
}

void GradientSync::finish() {
  if (!group_.distributed()) return;
  std::lock_guard lock(mutex_);
  require(armed_, "GradientSync::finish without arm()");
  torch::NoGradGuard no_grad;
  // Parameters the pass did not reach (unused in this step) contribute what they have.
  for (auto& slot : slots_) {
    if (slot.ready) continue;
    auto& bucket = buckets_[slot.bucket];
    auto view = bucket.buffer.narrow(0, slot.offset, slot.parameter.numel());
    const auto& accumulated = slot.parameter.grad();
    if (accumulated.defined())
      view.copy_(accumulated.reshape({-1}));
    else
      view.zero_();
    slot.ready = true;
    --bucket.pending;
  }
  start_ready_buckets();
  const double scale = 1.0 / group_.size();
  for (auto& bucket : buckets_) bucket.reduction.wait();
  for (auto& slot : slots_) {
    auto mean = buckets_[slot.bucket].buffer.narrow(0, slot.offset, slot.parameter.numel());
    auto& grad = slot.parameter.mutable_grad();
    if (!grad.defined()) grad = torch::empty_like(slot.parameter);
    grad.copy_(mean.view(slot.parameter.sizes())).mul_(scale);
  }
  armed_ = false;
}

}  // namespace vidprobe::dist
