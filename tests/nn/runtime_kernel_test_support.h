#pragma once
// Checks shared by the tests of the runtime kernels' users.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <exception>
#include <string>

namespace vidprobe::test_support {

// A second derivative of `y` (a scalar computed from `x` through a runtime kernel) is refused with
// an error that says so, never computed silently wrong.
inline void expect_second_derivative_refused(const torch::Tensor& y, const torch::Tensor& x) {
  try {
    torch::autograd::grad({y}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true);
    FAIL() << "a second derivative through the runtime kernels was not refused";
  } catch (const std::exception& error) {
    EXPECT_NE(std::string(error.what()).find("second derivative"), std::string::npos)
        << error.what();
  }
}

}  // namespace vidprobe::test_support
