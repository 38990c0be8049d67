#pragma once
// Device selection and mixed precision for the probe.
#include <torch/torch.h>

#include <string>

namespace vidprobe::probe {

// "cpu", "cuda" or "cuda:N"; throws vidprobe::Error naming the value when it is malformed or the
// device is not available.
torch::Device parse_device(const std::string& name);

// bf16 autocast on CUDA for the guard's lifetime (a no-op on CPU or when disabled): matmuls and
// convolutions run in bf16, the losses cast back to fp32.
class AutocastGuard {
 public:
  AutocastGuard(torch::Device device, bool enabled);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false, previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

}  // namespace vidprobe::probe
