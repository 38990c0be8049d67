#include "vidprobe/backbones/benchmark.h"

#include <ATen/DeviceAccelerator.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/kernel_profile.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones {
namespace {

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? 0 : device.index());
}

struct MeteredStages {
  std::map<std::string, nn::StageTotals> totals;
  int clips = 0;
};

// Stage times and FLOPs from further clips under a StageMeter: its synchronisation at every stage
// boundary is kept out of the clips/s figure.
MeteredStages metered_stages(Backbone& backbone, const torch::Tensor& clip,
                             const ExtractionPoint& point, const BackboneBenchOptions& options) {
  MeteredStages out;
  out.clips = std::max(1, options.iterations / 2);
  nn::StageMeter meter(options.device);
  for (int i = 0; i < out.clips; ++i) backbone.extract(clip, point);
  out.totals = meter.totals();
  return out;
}

// "stages": {name: {"ms_per_clip", "tflop_per_clip"}}; "tflop_per_clip" and the MFUs of the
// transformer stage: "transformer_mfu" over its own time, "mfu" over the whole extraction's.
void add_stage_figures(nlohmann::json& result, const MeteredStages& stages, double clips_per_s) {
  nlohmann::json by_name = nlohmann::json::object();
  for (const auto& [name, totals] : stages.totals)
    by_name[name] = {{"ms_per_clip", 1000.0 * totals.seconds / stages.clips},
                     {"tflop_per_clip", totals.flops / stages.clips / 1e12}};
  result["stages"] = by_name;
  result["stage_clips"] = stages.clips;
  const auto found = stages.totals.find(nn::kTransformerStage);
  if (found == stages.totals.end() || found->second.flops <= 0) return;
  const double flops = found->second.flops / stages.clips;
  result["tflop_per_clip"] = flops / 1e12;
  result["mfu_peak_tflops"] = nn::kHopperDenseBf16Flops / 1e12;
  result["mfu"] = flops * clips_per_s / nn::kHopperDenseBf16Flops;
  result["transformer_mfu"] =
      found->second.flops / found->second.seconds / nn::kHopperDenseBf16Flops;
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
  const auto stages = metered_stages(*backbone, clip, point, options);
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
  // The family settings given (e.g. WAN's vae_dtype), so that a table pairs like with like.
  if (!options.extra.empty()) result["backbone_opts"] = options.extra;
  add_stage_figures(result, stages, options.iterations / seconds);
  if (!options.profile_dir.empty())
    result["profile"] =
        nn::profile_into_directory(  // after the timed clips: caches and kernels are warm
            [&] {
              // Its stages bound the kernels of the VAE and the transformer in the profile.
              nn::StageMeter meter(device);
              backbone->extract(clip, point);
              synchronize(device);
            },
            device.is_cuda(), options.profile_dir);
  return result;
}

}  // namespace vidprobe::backbones
