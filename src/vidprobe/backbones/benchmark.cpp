#include "vidprobe/backbones/benchmark.h"

#include <ATen/DeviceAccelerator.h>
#include <torch/torch.h>

#include <chrono>

#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/kernel_profile.h"

namespace vidprobe::backbones {
namespace {

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? 0 : device.index());
}

}  // namespace

nlohmann::json benchmark_backbone(const BackboneBenchOptions& options) {
  const auto device = options.device;
  BackboneOptions backbone_options;
  backbone_options.weights = options.weights;
  backbone_options.random_init = options.weights.empty();
  backbone_options.device = device;
  backbone_options.dtype = options.dtype;
  backbone_options.extra = options.extra;
  auto backbone = create_backbone(options.backbone, backbone_options);
  backbone->to(device, backbone_options.dtype);
  const auto spec = backbone->input_spec();
  ExtractionPoint point = backbone->default_point();
  if (options.layer >= 0) point.layer = options.layer;
  torch::manual_seed(0);
  const auto clip = torch::rand({options.frames, 3, spec.height, spec.width}).to(device);
  // No autograd bookkeeping at all (less dispatch work per kernel), as torch.inference_mode().
  c10::InferenceMode inference;
  for (int i = 0; i < options.warmup; ++i) backbone->extract(clip, point);
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.iterations; ++i) backbone->extract(clip, point);
  synchronize(device);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json peak_gb = nullptr;  // allocator peak over load, warm-up and the timed clips
  if (device.is_cuda()) {
    const auto index = device.index() < 0 ? 0 : device.index();
    peak_gb =
        static_cast<double>(at::accelerator::getDeviceStats(index).allocated_bytes[0].peak) / 1e9;
  }
  nlohmann::json result = {{"backbone", options.backbone},
                           {"device", device.str()},
                           {"dtype", nn::dtype_name(options.dtype)},
                           {"frames", options.frames},
                           {"height", spec.height},
                           {"width", spec.width},
                           {"layer", point.layer},
                           {"iterations", options.iterations},
                           {"clips_per_s", options.iterations / seconds},
                           {"ms_per_clip", 1000.0 * seconds / options.iterations},
                           {"peak_allocated_gb", peak_gb}};
  if (!options.profile_dir.empty())
    result["profile"] =
        nn::profile_into_directory(  // after the timed clips: caches and kernels are warm
            [&] {
              backbone->extract(clip, point);
              synchronize(device);
            },
            device.is_cuda(), options.profile_dir);
  return result;
}

}  // namespace vidprobe::backbones
