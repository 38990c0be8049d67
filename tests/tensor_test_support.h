#pragma once
// Tensor comparisons shared by the parity tests.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

namespace vidprobe::test_support {

// max |actual - expected| / max |expected|, in float64 on the CPU: the parity tests' error measure
// against a reference implementation's output. Different shapes fail the test (and return 1e9),
// never broadcast.
inline double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kCPU, torch::kFloat64);
  const auto e = expected.to(torch::kCPU, torch::kFloat64);
  EXPECT_EQ(a.sizes(), e.sizes());
  if (a.sizes() != e.sizes()) return 1e9;
  return (a - e).abs().max().item<double>() / std::max(e.abs().max().item<double>(), 1e-30);
}

}  // namespace vidprobe::test_support
