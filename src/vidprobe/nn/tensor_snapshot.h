#pragma once
// What a cache derived from a parameter must remember to know it is still valid: the parameter's
// storage (held, so that its address cannot be reused), data pointer and version counter.
// Moving a module (to(device/dtype)) gives its parameters new storage; loading weights or an
// optimiser step writes them in place and bumps the version. Either makes the snapshot stale.
#include <torch/torch.h>

namespace vidprobe::nn {

class TensorSnapshot {
 public:
  TensorSnapshot() = default;
  explicit TensorSnapshot(const torch::Tensor& tensor)
      : storage_(tensor.defined() ? tensor.storage() : c10::Storage()),
        data_(tensor.defined() ? tensor.data_ptr() : nullptr),
        version_(tensor.defined() ? tensor._version() : 0),
        defined_(tensor.defined()) {}

  // True when `tensor` is the one taken, unchanged since (an undefined tensor matches an
  // undefined one).
  bool matches(const torch::Tensor& tensor) const {
    if (!tensor.defined() || !defined_) return tensor.defined() == defined_;
    return storage_.is_alias_of(tensor.storage()) && data_ == tensor.data_ptr() &&
           version_ == tensor._version();
  }

 private:
  c10::Storage storage_;
  const void* data_ = nullptr;
  uint32_t version_ = 0;
  bool defined_ = false;
};

}  // namespace vidprobe::nn
