#include "vidprobe/nn/stage_meter.h"

#include "vidprobe/core/error.h"

namespace vidprobe::nn {
namespace {

thread_local StageMeter* active_meter = nullptr;

}  // namespace

StageMeter::StageMeter(torch::Device device) : device_(device), previous_(active_meter) {
  require(previous_ == nullptr, "a stage meter is already installed on this thread");
  active_meter = this;
}

StageMeter::~StageMeter() {
  active_meter = previous_;
}

StageTotals StageMeter::stage(const std::string& name) const {
  const auto found = totals_.find(name);
  return found == totals_.end() ? StageTotals{} : found->second;
}

void StageMeter::synchronize() const {
  if (device_.is_cuda()) torch::cuda::synchronize(device_.index() < 0 ? 0 : device_.index());
}

ScopedStage::ScopedStage(const std::string& name) {
  auto* meter = active_meter;
  if (meter == nullptr || meter->open_ != nullptr) return;
  meter->synchronize();  // the previous stage's kernels are not this one's time
  totals_ = &meter->totals_[name];
  meter->open_ = totals_;
  // Records nothing unless a profiler listens. Opened after the synchronisation above and closed
  // after the one at exit, so every kernel of the stage, and no other, runs inside the scope.
  scope_.emplace(at::RecordScope::USER_SCOPE);
  if (scope_->isActive()) scope_->before(std::string(kStageScopePrefix) + name);
  start_ = std::chrono::steady_clock::now();
}

ScopedStage::~ScopedStage() {
  if (totals_ == nullptr) return;
  auto* meter = active_meter;
  meter->synchronize();
  totals_->seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  ++totals_->entries;
  meter->open_ = nullptr;
  scope_.reset();
}

bool counting_flops() {
  return active_meter != nullptr && active_meter->open_ != nullptr;
}

void count_flops(double flops) {
  if (counting_flops()) active_meter->open_->flops += flops;
}

void count_linear_flops(const torch::Tensor& x, int64_t out_features) {
  if (!counting_flops()) return;
  const double in = static_cast<double>(x.size(-1));
  const double rows = static_cast<double>(x.numel()) / in;
  count_flops(2.0 * rows * in * static_cast<double>(out_features));
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        bool causal, std::optional<double> scale) {
  if (counting_flops()) {
    // (B, heads, Lq, d) x (B, heads, Lk, d): QK^T then the (Lq, Lk) weights times v (Lk, dv).
    const double pairs =
        static_cast<double>(q.numel() / q.size(-1)) * static_cast<double>(k.size(-2));
    const double products = pairs * static_cast<double>(q.size(-1) + v.size(-1));
    count_flops(2.0 * products * (causal ? 0.5 : 1.0));
  }
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, causal,
                                          scale);
}

}  // namespace vidprobe::nn
