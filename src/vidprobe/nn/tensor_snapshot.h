#pragma once
// What a cache derived from a parameter must remember to know it is still valid: the parameter's
// storage, data pointer and version counter. Moving a module (to(device/dtype)) gives its
// parameters new storage; loading weights or an optimiser step writes them in place and bumps
// the version. Either makes the snapshot stale. The storage is referenced weakly: a moved
// parameter's old memory is freed as usual, while the storage object itself stays allocated, so
// its address cannot be taken by a new storage and pass for the old one.
#include <torch/torch.h>

#include <optional>

namespace vidprobe::nn {

class TensorSnapshot {
 public:
  TensorSnapshot() = default;
  explicit TensorSnapshot(const torch::Tensor& tensor) {
    if (!tensor.defined()) return;
    storage_.emplace(tensor.storage().getWeakStorageImpl());
    data_ = tensor.data_ptr();
    version_ = tensor._version();
  }

  // True when `tensor` is the one taken, unchanged since (an undefined tensor matches an
  // undefined one).
  bool matches(const torch::Tensor& tensor) const {
    if (!tensor.defined() || !storage_) return tensor.defined() == storage_.has_value();
    const auto storage = storage_->lock();
    return storage && storage.get() == tensor.storage().unsafeGetStorageImpl() &&
           data_ == tensor.data_ptr() && version_ == tensor._version();
  }

 private:
  std::optional<c10::weak_intrusive_ptr<c10::StorageImpl>> storage_;
  const void* data_ = nullptr;
  uint32_t version_ = 0;
};

}  // namespace vidprobe::nn
