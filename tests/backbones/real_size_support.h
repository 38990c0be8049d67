#pragma once
// Shared by the real-size parity tests against the official code (tests/backbones/*/
// real_size_test.cpp, run by scripts/gpu-official.sh on a GPU, skipped elsewhere): where they run,
// how differences are measured, and how a result line is printed for the script's JSON log.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

namespace vidprobe::testing::real_size {

// The parity directory an environment variable names, or nothing (the test skips).
inline std::optional<std::filesystem::path> parity_dir(const char* variable) {
  const char* dir = std::getenv(variable);
  if (!dir || !*dir) return std::nullopt;
  return std::filesystem::path(dir);
}

// CUDA when available; the CPU only when VIDPROBE_OFFICIAL_PARITY_CPU=1 asks for it (a dry run of
// the test against bench/official_reference.py --tiny output, which is not real size).
inline std::optional<torch::Device> parity_device() {
  if (torch::cuda::is_available()) return torch::Device(torch::kCUDA);
  const char* cpu = std::getenv("VIDPROBE_OFFICIAL_PARITY_CPU");
  if (cpu && std::string(cpu) == "1") return torch::Device(torch::kCPU);
  return std::nullopt;
}

// max |actual - expected| / max |expected|.
inline double max_relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kCPU, torch::kFloat64), e = expected.to(torch::kFloat64);
  EXPECT_EQ(a.sizes(), e.sizes());
  if (a.sizes() != e.sizes()) return 1e9;
  return (a - e).abs().max().item<double>() / std::max(e.abs().max().item<double>(), 1e-30);
}

inline double max_abs_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kCPU, torch::kFloat64), e = expected.to(torch::kFloat64);
  if (a.sizes() != e.sizes()) return 1e9;
  return (a - e).abs().max().item<double>();
}

// ||actual - expected|| / ||expected||: bf16's rounding judged over the whole map, not its worst
// element.
inline double norm_relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kCPU, torch::kFloat64), e = expected.to(torch::kFloat64);
  if (a.sizes() != e.sizes()) return 1e9;
  return ((a - e).norm() / e.norm().clamp_min(1e-30)).item<double>();
}

// TF32 off for cuDNN (convolutions) while alive, as the float32 references were computed; cuBLAS
// TF32 is off by default in libtorch.
class ExactFloat32 {
 public:
  ExactFloat32() : saved_(at::globalContext().allowTF32CuDNN()) {
    at::globalContext().setAllowTF32CuDNN(false);
  }
  ~ExactFloat32() { at::globalContext().setAllowTF32CuDNN(saved_); }
  ExactFloat32(const ExactFloat32&) = delete;
  ExactFloat32& operator=(const ExactFloat32&) = delete;

 private:
  bool saved_;
};

}  // namespace vidprobe::testing::real_size
