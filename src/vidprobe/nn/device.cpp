#include "vidprobe/nn/device.h"

#include <ATen/autocast_mode.h>
#include <c10/util/Exception.h>

#include <new>

#include "vidprobe/core/error.h"

namespace vidprobe::nn {

torch::Tensor to_device_async(const torch::Tensor& host, torch::Device device) {
  if (!device.is_cuda() || !host.is_cpu())
    return host.to(host.options().device(device), /*non_blocking=*/false, /*copy=*/true);
  auto staged = torch::empty(host.sizes(), host.options().pinned_memory(true)).copy_(host);
  return staged.to(device, /*non_blocking=*/true);
}

bool is_out_of_memory(const std::exception& error) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&error) != nullptr ||
      dynamic_cast<const std::bad_alloc*>(&error) != nullptr)
    return true;
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  return c10_error != nullptr &&
         std::string(c10_error->what_without_backtrace())
                 .find("DefaultCPUAllocator: can't allocate") != std::string::npos;
}

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    require(torch::cuda::is_available(),
            "device '" + name + "' requested but CUDA is not available");
    int index = 0;
    if (name.size() > 5) {
      const auto digits = name.substr(5);
      require(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
              "bad device '" + name + "' (expected cpu, cuda or cuda:N)");
      index = std::stoi(digits);
      require(index < static_cast<int>(torch::cuda::device_count()),
              "device '" + name + "' does not exist (" +
                  std::to_string(torch::cuda::device_count()) + " CUDA devices)");
    }
    return {torch::kCUDA, static_cast<c10::DeviceIndex>(index)};
  }
  throw Error("bad device '" + name + "' (expected cpu, cuda or cuda:N)");
}

torch::Dtype parse_dtype(const std::string& name, const std::string& what) {
  if (name == "fp32") return torch::kFloat32;
  if (name == "bf16") return torch::kBFloat16;
  if (name == "fp16") return torch::kFloat16;
  throw Error(what + " must be fp32, bf16 or fp16; got '" + name + "'");
}

std::string dtype_name(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat32:
      return "fp32";
    case torch::kBFloat16:
      return "bf16";
    case torch::kFloat16:
      return "fp16";
    default:
      return c10::toString(dtype);
  }
}

AutocastGuard::AutocastGuard(torch::Device device, bool enabled) {
  if (!enabled || !device.is_cuda()) return;
  active_ = true;
  previous_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
  previous_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  at::autocast::set_autocast_enabled(at::kCUDA, previous_enabled_);
  at::autocast::set_autocast_dtype(at::kCUDA, previous_dtype_);
  at::autocast::clear_cache();
}

AutocastDisabledGuard::AutocastDisabledGuard()
    : previous_enabled_(at::autocast::is_autocast_enabled(at::kCUDA)) {
  at::autocast::set_autocast_enabled(at::kCUDA, false);
}

AutocastDisabledGuard::~AutocastDisabledGuard() {
  at::autocast::set_autocast_enabled(at::kCUDA, previous_enabled_);
}

CudnnBenchmarkScope::CudnnBenchmarkScope(torch::Device device, bool enabled)
    : previous_(at::globalContext().benchmarkCuDNN()) {
  if (device.is_cuda() && enabled) at::globalContext().setBenchmarkCuDNN(true);
}

CudnnBenchmarkScope::~CudnnBenchmarkScope() {
  at::globalContext().setBenchmarkCuDNN(previous_);
}

}  // namespace vidprobe::nn
