#include "vidprobe/features/extractor.h"

#include <torch/torch.h>

#include <chrono>
#include <future>
#include <numeric>

#include "vidprobe/backbones/registry.h"
#include "vidprobe/build_info_torch.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/progress.h"
#include "vidprobe/data/dataset.h"
#include "vidprobe/features/clip_tensors.h"
#include "vidprobe/features/feature_cache.h"
#include "vidprobe/io/safetensors.h"

namespace vidprobe::features {
namespace fs = std::filesystem;
namespace {

// The settings that define what a cache holds; a resumed run must match them exactly.
nlohmann::json cache_identity(const ExtractOptions& o, const backbones::Backbone& backbone, int layer,
                              int gt_size) {
  const auto spec = backbone.input_spec();
  return {{"backbone", o.backbone},
          {"weights", o.weights},
          {"layer", layer},
          {"timestep", o.point.timestep ? nlohmann::json(*o.point.timestep) : nlohmann::json()},
          {"noise_seed", o.point.noise_seed},
          {"dataset_kind", o.dataset_kind},
          {"dataset_root", fs::absolute(o.dataset_root).lexically_normal().string()},
          {"split", o.split},
          {"train_ratio", o.train_ratio},
          {"frames", o.frames},
          {"sampling", o.sampling},
          {"seed", o.seed},
          {"temporal", o.temporal},
          {"dtype", o.dtype},
          {"input_size", {spec.height, spec.width}},
          {"gt_size", gt_size}};
}

torch::Tensor run_backbone(backbones::Backbone& backbone, const torch::Tensor& clip,
                           const backbones::ExtractionPoint& point, const std::string& temporal,
                           std::uint64_t seed) {
  if (temporal == "video") return backbone.extract(clip, point).features;
  if (temporal == "per-frame") {
    std::vector<torch::Tensor> maps;
    for (int64_t t = 0; t < clip.size(0); ++t)
      maps.push_back(backbone.extract(clip.slice(0, t, t + 1), point).features);
    return torch::cat(maps, 0);
  }
  // shuffled: the backbone sees the frames in a random order; features are put back in the
  // original order so they stay aligned with the ground truth.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto order = torch::randperm(clip.size(0), generator, torch::kLong);
  auto features = backbone.extract(clip.index_select(0, order.to(clip.device())), point).features;
  return features.index_select(0, torch::argsort(order).to(features.device()));
}

}  // namespace

ExtractSummary extract_features(const ExtractOptions& options) {
  require(options.temporal == "video" || options.temporal == "per-frame" || options.temporal == "shuffled",
          "--temporal must be video, per-frame or shuffled; got '" + options.temporal + "'");
  require(options.dtype == "fp16" || options.dtype == "fp32",
          "--dtype must be fp16 or fp32; got '" + options.dtype + "'");
  require(options.frames >= 1, "--frames must be at least 1; got " + std::to_string(options.frames));
  require(!options.out_dir.empty(), "--out is required");
  const auto started = std::chrono::steady_clock::now();
  const torch::Device device(options.device);
  require(!device.is_cuda() || torch::cuda::is_available(),
          "--device " + options.device + " requested but no CUDA device is visible");

  backbones::BackboneOptions backbone_options;
  backbone_options.weights = options.weights;
  backbone_options.seed = options.seed;
  backbone_options.device = device;
  auto backbone = backbones::create_backbone(options.backbone, backbone_options);
  const auto spec = backbone->input_spec();
  require(options.frames >= spec.frames_offset + spec.frames_multiple &&
              (options.frames - spec.frames_offset) % spec.frames_multiple == 0,
          "backbone '" + options.backbone + "' needs clips of " + std::to_string(spec.frames_multiple) +
              "k + " + std::to_string(spec.frames_offset) + " frames; --frames is " +
              std::to_string(options.frames));
  backbones::ExtractionPoint point = options.point;
  if (point.layer < 0) point.layer = backbone->default_point().layer;
  if (!point.timestep) point.timestep = backbone->default_point().timestep;
  require(point.layer < backbone->num_layers(),
          "--layer " + std::to_string(point.layer) + " is outside backbone '" + options.backbone +
              "', which has layers 0.." + std::to_string(backbone->num_layers() - 1));
  const int gt_size = options.gt_size > 0 ? options.gt_size : spec.height;

  DatasetOptions dataset_options;
  dataset_options.split = options.split;
  dataset_options.train_ratio = options.train_ratio;
  const auto dataset = open_dataset(options.dataset_kind, options.dataset_root, dataset_options);
  const auto& sequences = dataset->sequences();
  require(!sequences.empty(), "dataset '" + options.dataset_root.string() + "' (" +
                                  options.dataset_kind + ", split " + options.split + ") has no sequences");
  ClipSampling sampling;
  sampling.mode = parse_clip_sampling_mode(options.sampling);
  sampling.num_frames = options.frames;
  sampling.seed = options.seed;

  // A cache extracted with other settings is never mixed with this one.
  const auto identity = cache_identity(options, *backbone, point.layer, gt_size);
  const auto manifest_path = options.out_dir / "manifest.json";
  std::vector<std::string> done;
  if (fs::exists(manifest_path)) {
    nlohmann::json previous;
    try {
      previous = nlohmann::json::parse(read_file(manifest_path));
    } catch (const nlohmann::json::exception& e) {
      throw Error("cannot resume: '" + manifest_path.string() + "' is malformed: " + e.what());
    }
    require(previous.value("identity", nlohmann::json()) == identity,
            "'" + options.out_dir.string() + "' holds features extracted with other settings (" +
                previous.value("identity", nlohmann::json()).dump() + "); use another --out");
  }

  nlohmann::json manifest = {{"format", "vidprobe-feature-cache"}, {"version", 1}, {"identity", identity},
                             {"feature_dim", backbone->feature_dim()}, {"build", build_info()},
                             {"clips", nlohmann::json::array()}};
  auto write_manifest = [&] {
    manifest["clips"] = done;
    write_file_atomically(manifest_path, manifest.dump(2) + "\n");
  };

  ExtractSummary summary;
  Progress progress("extract " + options.backbone, sequences.size(), "clips");
  // Load the next clip from disk while the backbone works on the current one.
  auto load = [&](std::size_t index) { return dataset->sample_clip(sequences[index], sampling); };
  std::future<Clip> next = std::async(std::launch::async, load, 0);
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    Clip clip = next.get();
    if (i + 1 < sequences.size()) next = std::async(std::launch::async, load, i + 1);
    const auto shard_path = options.out_dir / "clips" / (clip.id + ".safetensors");
    bool reusable = false;
    if (fs::exists(shard_path)) {
      try {
        const auto existing = SafetensorsFile::open(shard_path);  // validates the whole layout
        reusable = existing.metadata().count("identity") &&
                   existing.metadata().at("identity") == identity.dump();
      } catch (const Error&) {
        reusable = false;  // a damaged shard is recomputed, never trusted
      }
    }
    if (reusable) {
      ++summary.clips_skipped;
    } else {
      const auto inputs = clip_to_tensors(clip, spec.width, spec.height, gt_size);
      torch::Tensor features;
      {
        torch::NoGradGuard no_grad;
        features = run_backbone(*backbone, inputs.backbone_input.to(device), point, options.temporal,
                                options.seed + stable_hash(clip.id));
      }
      FeatureShard shard;
      shard.clip_id = clip.id;
      shard.features = features.to(torch::kCPU, options.dtype == "fp16" ? torch::kFloat16 : torch::kFloat32);
      shard.images = inputs.gt_images;
      shard.depth = inputs.depth;
      shard.valid = inputs.valid;
      shard.extrinsics = inputs.extrinsics;
      shard.intrinsics = inputs.intrinsics;
      shard.meta = {{"backbone", options.backbone}, {"layer", std::to_string(point.layer)},
                    {"sequence", clip.meta.value("sequence", clip.id)},
                    {"identity", identity.dump()}};
      write_shard(options.out_dir, shard);
      ++summary.clips_written;
    }
    done.push_back(clip.id);
    write_manifest();
    progress.advance();
  }
  progress.finish();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace vidprobe::features
