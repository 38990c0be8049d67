#pragma once
// Device and dtype selection and mixed precision: the one parser of each, used at the CLI edge
// (library option structs hold torch::Device and torch::Dtype, never their names).
#include <torch/torch.h>

#include <exception>
#include <string>

namespace vidprobe::nn {

// "cpu", "cuda" or "cuda:N"; throws vidprobe::Error naming the value when it is malformed or the
// device is not available.
torch::Device parse_device(const std::string& name);

// Whether `error` says the work did not fit the memory of a device: a c10::OutOfMemoryError (a
// GPU), std::bad_alloc, or the plain c10::Error by which libtorch's CPU allocator reports a
// failed host allocation (its text is the only sign). Not a fault of the program or its input.
bool is_out_of_memory(const std::exception& error);

// A CPU tensor on `device`; for a GPU staged through a pinned copy of its own and copied
// asynchronously. A copy from pageable memory makes the host wait until the GPU has run
// everything queued before it; the GPU then idles while the host queues the next work. Always a
// copy: the caller may change `host` as soon as this returns.
torch::Tensor to_device_async(const torch::Tensor& host, torch::Device device);

// "fp32" | "bf16" | "fp16" -> dtype; throws vidprobe::Error naming `what` (an option) otherwise.
torch::Dtype parse_dtype(const std::string& name, const std::string& what);
// The inverse: "fp32", "bf16", "fp16" (other dtypes: their libtorch name).
std::string dtype_name(torch::Dtype dtype);

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

// Turns CUDA autocast off for its lifetime (restoring the previous state after): the read-out
// heads run in fp32 as VGGT runs them, because their exponential activations and the
// confidence-weighted losses overflow or lose too much precision in bf16.
class AutocastDisabledGuard {
 public:
  AutocastDisabledGuard();
  ~AutocastDisabledGuard();
  AutocastDisabledGuard(const AutocastDisabledGuard&) = delete;
  AutocastDisabledGuard& operator=(const AutocastDisabledGuard&) = delete;

 private:
  bool previous_enabled_ = false;
};

// cuDNN autotuning (each convolution shape timed over the algorithms once, the fastest kept)
// while `enabled` and the work is on CUDA; the process-wide setting comes back on every exit path.
// Autotuning reads the setting when a convolution runs, backward ones included, so the scope must
// hold the backward pass too.
class CudnnBenchmarkScope {
 public:
  CudnnBenchmarkScope(torch::Device device, bool enabled);
  ~CudnnBenchmarkScope();
  CudnnBenchmarkScope(const CudnnBenchmarkScope&) = delete;
  CudnnBenchmarkScope& operator=(const CudnnBenchmarkScope&) = delete;

 private:
  bool previous_ = false;
};

}  // namespace vidprobe::nn
