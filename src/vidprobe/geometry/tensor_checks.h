#pragma once
// Input validation shared by the geometry and metric functions. Every failure throws
// vidprobe::Error with the argument's name in the message, so a caller can tell which tensor of
// which clip was at fault.
#include <torch/types.h>

#include <string>

namespace vidprobe::geometry {

// "[2, 3, 4]"
std::string shape_string(const torch::Tensor& tensor);

// Requires a defined floating-point tensor whose last dimensions are exactly `tail` (e.g. {3, 4}).
void require_float_with_tail(const torch::Tensor& tensor, c10::IntArrayRef tail,
                             const std::string& name);

// Requires every element to be finite; with a mask (broadcastable to tensor's leading dims, i.e.
// to tensor.shape[:mask.dim()]), only where the mask is true.
void require_finite(const torch::Tensor& tensor, const std::string& name);
void require_finite(const torch::Tensor& tensor, const torch::Tensor& mask,
                    const std::string& name);

}  // namespace vidprobe::geometry
