#pragma once
// What the report tests feed the report: a clip's geometry as `vidprobe eval` writes it.
#include <torch/torch.h>

#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::report::test_fixture {

// A unit sphere of coloured points seen by two cameras, as `vidprobe eval` writes it.
inline TensorMap sphere_geometry(int64_t points) {
  torch::manual_seed(3);
  auto gt = torch::randn({points, 3});
  gt = gt / gt.norm(2, 1, true) + torch::tensor({0.0f, 0.0f, 4.0f});
  const auto pred = gt + 0.05 * torch::randn({points, 3});
  const auto cameras = torch::stack({torch::eye(3, 4), torch::eye(3, 4)});
  cameras[1][0][3] = 0.5;
  const auto k = torch::tensor({{50.0f, 0.0f, 32.0f}, {0.0f, 50.0f, 24.0f}, {0.0f, 0.0f, 1.0f}});
  return {{"gt_points", gt},
          {"pred_points", pred},
          {"colors", (torch::rand({points, 3}) * 255).to(torch::kUInt8)},
          {"error", (pred - gt).norm(2, 1)},
          {"gt_cameras", cameras},
          {"pred_cameras", cameras.clone()},
          {"intrinsics", torch::stack({k, k})},
          {"image_size", torch::tensor({48, 64}, torch::kInt64)}};
}

}  // namespace vidprobe::report::test_fixture
