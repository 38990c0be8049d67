#include "vidprobe/geometry/tensor_checks.h"

#include <torch/torch.h>

#include <sstream>

#include "vidprobe/core/error.h"

namespace vidprobe::geometry {

std::string shape_string(const torch::Tensor& tensor) {
  if (!tensor.defined()) return "(undefined)";
  std::ostringstream out;
  out << tensor.sizes();
  return out.str();
}

void require_float_with_tail(const torch::Tensor& tensor, c10::IntArrayRef tail,
                             const std::string& name) {
  require(tensor.defined(), name + " is undefined");
  require(tensor.is_floating_point(), name + " must be a floating-point tensor, got " +
                                          std::string(c10::toString(tensor.scalar_type())));
  const auto tail_size = static_cast<int64_t>(tail.size());
  bool matches = tensor.dim() >= tail_size;
  for (int64_t i = 0; matches && i < tail_size; ++i) {
    matches = tensor.size(tensor.dim() - tail_size + i) == tail[i];
  }
  std::string expected = "(...";
  for (const auto size : tail) expected += ", " + std::to_string(size);
  require(matches, name + " must have shape " + expected + "), got " + shape_string(tensor));
}

void require_finite(const torch::Tensor& tensor, const std::string& name) {
  if (tensor.numel() == 0 || !tensor.is_floating_point()) return;
  const auto bad = torch::logical_not(torch::isfinite(tensor)).sum().item<int64_t>();
  require(bad == 0, name + " has " + std::to_string(bad) + " non-finite (NaN or inf) values");
}

void require_finite(const torch::Tensor& tensor, const torch::Tensor& mask,
                    const std::string& name) {
  if (tensor.numel() == 0 || !tensor.is_floating_point()) return;
  auto bad_elements = torch::logical_not(torch::isfinite(tensor));
  // Reduce the trailing (per-element component) dimensions so the mask applies per entry.
  while (bad_elements.dim() > mask.dim()) bad_elements = bad_elements.any(-1);
  const auto bad = torch::logical_and(bad_elements, mask.to(torch::kBool)).sum().item<int64_t>();
  require(bad == 0, name + " has " + std::to_string(bad) +
                        " non-finite (NaN or inf) values where the mask is valid");
}

}  // namespace vidprobe::geometry
