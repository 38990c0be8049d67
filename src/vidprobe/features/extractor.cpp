#include "vidprobe/features/extractor.h"

#include <ATen/core/CachingHostAllocator.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <future>
#include <iomanip>
#include <numeric>
#include <optional>
#include <sstream>

#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/cpu_cores.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/progress.h"
#include "vidprobe/core/resumable.h"
#include "vidprobe/data/dataset.h"
#include "vidprobe/dist/sharding.h"
#include "vidprobe/features/clip_tensors.h"
#include "vidprobe/features/feature_cache.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::features {
namespace fs = std::filesystem;
namespace {

struct GtSize {
  int height = 0, width = 0;
};

// GT keeps the backbone input's aspect ratio (same field of view after the centre crop) unless
// both sides are given.
GtSize gt_size_for(int requested_height, int requested_width, const backbones::InputSpec& spec) {
  if (requested_height <= 0) return {spec.height, spec.width};
  if (requested_width > 0) return {requested_height, requested_width};
  const int width = static_cast<int>(
      std::lround(static_cast<double>(requested_height) * spec.width / spec.height));
  return {requested_height, std::max(1, width)};
}

// The settings that define what a cache holds; a resumed run must match them exactly.
nlohmann::json cache_identity(const ExtractOptions& o, const backbones::Backbone& backbone,
                              const backbones::ExtractionPoint& point, const GtSize& gt,
                              torch::Dtype compute_dtype) {
  const auto spec = backbone.input_spec();
  nlohmann::json identity = {
      {"backbone", o.backbone},
      {"weights", o.weights},
      {"layer", point.layer},
      {"timestep", point.timestep ? nlohmann::json(*point.timestep) : nlohmann::json()},
      {"noise_seed", point.noise_seed},
      {"dataset_kind", o.dataset_kind},
      {"dataset_root", fs::absolute(o.dataset_root).lexically_normal().string()},
      {"split", to_string(o.split)},
      {"train_ratio", o.train_ratio},
      {"frames", o.frames},
      {"sampling", to_string(o.sampling)},
      {"seed", o.seed},
      {"temporal", to_string(o.temporal)},
      {"dtype", nn::dtype_name(o.cache_dtype)},
      {"input_size", {spec.height, spec.width}},
      {"gt_size",
       gt.height == gt.width ? nlohmann::json(gt.height) : nlohmann::json({gt.height, gt.width})}};
  // Added later; left out at their defaults so caches written before them stay valid.
  if (o.probe_frames > 0) identity["probe_frames"] = o.probe_frames;
  if (o.keep_first > 0) identity["keep_first"] = o.keep_first;
  if (compute_dtype != torch::kFloat32) identity["compute_dtype"] = nn::dtype_name(compute_dtype);
  if (!o.backbone_options.empty()) identity["backbone_options"] = o.backbone_options;
  if (o.random_init) identity["random_init"] = true;
  if (o.resize != ResizeMode::kCrop) identity["resize"] = to_string(o.resize);
  if (o.input_processor) identity["input_processor"] = o.input_processor->name;
  if (o.noise_per_clip) identity["noise_per_clip"] = true;
  if (o.interleaved_clips > 1) identity["interleaved_clips"] = o.interleaved_clips;
  if (point.sigma) identity["sigma"] = *point.sigma;
  return identity;
}

// Features of one clip at every point, one map per frame each, aligned with the clip's frame order.
// `truth` is handed only to calibration backbones (reads_truth); it follows the frames they see.
std::vector<backbones::FeatureMaps> run_backbone(
    backbones::Backbone& backbone, const torch::Tensor& clip, const backbones::ClipTruth& truth,
    const std::vector<backbones::ExtractionPoint>& points, TemporalMode temporal,
    std::uint64_t seed) {
  const auto feed = [&](const std::optional<torch::Tensor>& frames) {
    const auto input = frames ? clip.index_select(0, frames->to(clip.device())) : clip;
    if (!backbone.reads_truth()) return backbone.extract_many(input, points);
    return backbone.extract_from_truth(input, frames ? truth.select(*frames) : truth, points);
  };
  if (temporal == TemporalMode::kVideo) return feed(std::nullopt);
  std::vector<backbones::FeatureMaps> out(points.size());
  if (temporal == TemporalMode::kPerFrame) {
    // Every frame alone: each gets a map of its own (no frame_index).
    std::vector<std::vector<torch::Tensor>> per_point(points.size());
    for (int64_t t = 0; t < clip.size(0); ++t) {
      auto maps = feed(torch::tensor({t}, torch::kLong));
      for (std::size_t p = 0; p < points.size(); ++p) per_point[p].push_back(maps[p].features);
    }
    for (std::size_t p = 0; p < points.size(); ++p) out[p].features = torch::cat(per_point[p], 0);
    return out;
  }
  // shuffled: the backbone sees the frames in a random order; features are put back in the
  // original order so they stay aligned with the ground truth.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto order = torch::randperm(clip.size(0), generator, torch::kLong);
  const auto inverse = torch::argsort(order);
  auto maps = feed(order);
  for (std::size_t p = 0; p < points.size(); ++p) {
    out[p].features = maps[p].features.index_select(0, inverse.to(maps[p].features.device()));
    if (maps[p].frame_index.defined())
      out[p].frame_index = maps[p].frame_index.index_select(0, inverse);
  }
  return out;
}

// What a shard stores of one point: each map once, with the map every frame reads (undefined:
// one map per frame).
struct StoredMaps {
  torch::Tensor maps, index;
};

// The backbone's own maps once each, with the frame -> map index: the first frame of every map.
StoredMaps stored_maps(const backbones::FeatureMaps& maps) {
  if (!maps.frame_index.defined()) return {maps.features, {}};
  const auto index = maps.frame_index.to(torch::kCPU, torch::kLong);
  const auto count = index.max().item<int64_t>() + 1;
  std::vector<int64_t> first(static_cast<std::size_t>(count), -1);
  for (int64_t t = 0; t < index.size(0); ++t) {
    auto& slot = first[static_cast<std::size_t>(index[t].item<int64_t>())];
    if (slot < 0) slot = t;
  }
  require(std::none_of(first.begin(), first.end(), [](int64_t t) { return t < 0; }),
          "extract: the backbone's frame index skips a map");
  return {
      maps.features.index_select(0, torch::tensor(first, torch::kLong).to(maps.features.device())),
      index};
}

// The maps the first `frames` frames read, with their index: a window of the clip the backbone
// saw (keep_first). Maps only later frames read are dropped.
StoredMaps first_frames(const StoredMaps& maps, int64_t frames) {
  const int64_t covered = maps.index.defined() ? maps.index.size(0) : maps.maps.size(0);
  require(covered >= frames, "extract: the backbone gave maps for " + std::to_string(covered) +
                                 " frames, fewer than the " + std::to_string(frames) + " kept");
  if (!maps.index.defined()) return {maps.maps.slice(0, 0, frames), {}};
  const auto index = maps.index.slice(0, 0, frames);
  const auto [used, remapped] = torch::_unique(index, /*sorted=*/true, /*return_inverse=*/true);
  return {maps.maps.index_select(0, used.to(maps.maps.device())), remapped};
}

// The interleaved clips' maps of one point, clip after clip, with the map each frame reads.
StoredMaps merge_interleaved(const std::vector<StoredMaps>& clips, int64_t frames) {
  std::vector<torch::Tensor> maps, indices;
  std::vector<int64_t> counts;
  for (const auto& clip : clips) {
    maps.push_back(clip.maps);
    counts.push_back(clip.maps.size(0));
    indices.push_back(clip.index.defined() ? clip.index : torch::arange(clip.maps.size(0)));
  }
  return {torch::cat(maps, 0), interleaved_feature_index(frames, indices, counts)};
}

// Features of one clip at every point as stored: the clip as it is, or its interleaved clips
// each fed alone (sub-clip c > 0 gets a noise seed of its own, as the authors draw fresh noise).
std::vector<StoredMaps> run_clip(backbones::Backbone& backbone, const torch::Tensor& clip,
                                 const backbones::ClipTruth& truth,
                                 const std::vector<backbones::ExtractionPoint>& points,
                                 const ExtractOptions& options, std::uint64_t seed) {
  std::vector<StoredMaps> out;
  if (options.interleaved_clips <= 1) {
    for (const auto& maps : run_backbone(backbone, clip, truth, points, options.temporal, seed))
      out.push_back(stored_maps(maps));
    return out;
  }
  const int64_t frames = clip.size(0), n = options.interleaved_clips;
  std::vector<std::vector<StoredMaps>> per_point(points.size());
  for (int64_t c = 0; c < n; ++c) {
    const auto frame_list = torch::tensor(interleaved_clip_frames(frames, n, c), torch::kLong);
    auto clip_points = points;
    if (c > 0)
      for (auto& point : clip_points)
        point.noise_seed = SplitMix64(point.noise_seed + static_cast<std::uint64_t>(c)).next();
    const auto maps = run_backbone(backbone, clip.index_select(0, frame_list.to(clip.device())),
                                   truth.select(frame_list), clip_points, options.temporal,
                                   seed + static_cast<std::uint64_t>(c));
    for (std::size_t p = 0; p < points.size(); ++p) per_point[p].push_back(stored_maps(maps[p]));
  }
  for (const auto& clips : per_point) out.push_back(merge_interleaved(clips, frames));
  return out;
}

// The stages the extraction loop times: one clip through the backbone, upload to host copy; and
// the wait for the previous clip's shards to be on disk.
constexpr const char* kBackboneStage = "backbone";
constexpr const char* kWriterWaitStage = "writer wait";

// run_clip with the device timed, the features brought to the host inside the timed stage: the
// writing thread takes them there, where a device copy would wait for the next clip's kernels.
// `unit_table`: unit_interval_table() on the backbone's device.
std::vector<StoredMaps> run_backbone_timed(backbones::Backbone& backbone, const ClipTensors& inputs,
                                           const torch::Tensor& unit_table,
                                           const std::vector<backbones::ExtractionPoint>& points,
                                           const ExtractOptions& options, std::uint64_t seed) {
  nn::ScopedStage stage(kBackboneStage);
  // No autograd bookkeeping at all (less dispatch work per kernel), as torch.inference_mode().
  c10::InferenceMode inference;
  const backbones::ClipTruth truth{inputs.depth, inputs.valid, inputs.extrinsics,
                                   inputs.intrinsics};
  // Pinned pixels upload without blocking: the copy is queued ahead of the backbone's kernels on
  // the same stream, and CUDA's caching host allocator keeps the block from reuse until the copy
  // is done.
  const auto input = backbone_input(inputs.backbone_pixels, unit_table,
                                    /*non_blocking=*/inputs.backbone_pixels.is_pinned());
  auto features = run_clip(backbone, input, truth, points, options, seed);
  // Converted to the cache's dtype where the backbone left them: on a GPU one kernel, where the
  // writer thread's CPU converted a float32 copy of every map before (bf16 -> fp32 -> fp16). The
  // values are the same: bf16 and fp16 are exact in float32, and both conversions round the
  // float32 value to nearest even. (A float32 cache of a bf16 backbone now copies twice the bytes
  // to the host inside the timed backbone stage.)
  for (auto& maps : features) {
    maps.maps = maps.maps.to(options.cache_dtype).to(torch::kCPU);
    if (maps.index.defined()) maps.index = maps.index.to(torch::kCPU);
  }
  return features;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

torch::Dtype resolve_compute_dtype(const std::optional<torch::Dtype>& requested,
                                   const torch::Device& device) {
  if (requested) return *requested;
  return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
}

}  // namespace

int loader_threads_for(int requested, int cores) {
  if (requested > 0) return requested;
  return std::clamp(cores - 1, 1, 15);
}

std::vector<int64_t> probe_frame_indices(int64_t frames, int64_t kept) {
  require(kept >= 1 && kept <= frames, "--probe-frames must be between 1 and --frames (" +
                                           std::to_string(frames) + "); got " +
                                           std::to_string(kept));
  std::vector<int64_t> index(static_cast<std::size_t>(kept));
  for (int64_t i = 0; i < kept; ++i)
    index[static_cast<std::size_t>(i)] =
        kept == 1 ? 0
                  : static_cast<int64_t>(std::lround(static_cast<double>(i) * (frames - 1) /
                                                     static_cast<double>(kept - 1)));
  return index;
}

std::vector<int64_t> interleaved_clip_frames(int64_t frames, int64_t clips, int64_t clip) {
  require(clips >= 1 && frames >= 1 + clips && (frames - 1) % clips == 0, [&] {
    return std::to_string(frames) + " frames do not split into " + std::to_string(clips) +
           " interleaved clips sharing frame 0 (frames must be 1 + " + std::to_string(clips) +
           " k, k >= 1)";
  });
  require(clip >= 0 && clip < clips, "interleaved clip " + std::to_string(clip) +
                                         " is outside 0.." + std::to_string(clips - 1));
  std::vector<int64_t> list{0};
  for (int64_t f = clip + 1; f < frames; f += clips) list.push_back(f);
  return list;
}

torch::Tensor interleaved_feature_index(int64_t frames,
                                        const std::vector<torch::Tensor>& clip_index,
                                        const std::vector<int64_t>& clip_maps) {
  const auto n = static_cast<int64_t>(clip_index.size());
  require(n >= 1 && clip_maps.size() == clip_index.size(),
          "interleaved_feature_index: one index and one map count per clip");
  std::vector<int64_t> offsets{0};
  for (auto count : clip_maps) offsets.push_back(offsets.back() + count);
  std::vector<int64_t> index(static_cast<std::size_t>(frames));
  for (int64_t f = 0; f < frames; ++f) {
    const int64_t c = f == 0 ? 0 : (f - 1) % n, position = f == 0 ? 0 : (f - 1) / n + 1;
    const auto& own = clip_index[static_cast<std::size_t>(c)];
    require(position < own.size(0), "interleaved clip " + std::to_string(c) + " has " +
                                        std::to_string(own.size(0)) + " frames, frame " +
                                        std::to_string(f) + " needs position " +
                                        std::to_string(position));
    index[static_cast<std::size_t>(f)] =
        offsets[static_cast<std::size_t>(c)] + own[position].item<int64_t>();
  }
  return torch::tensor(index, torch::kLong);
}

TemporalMode parse_temporal_mode(std::string_view name) {
  if (name == "video") return TemporalMode::kVideo;
  if (name == "per-frame") return TemporalMode::kPerFrame;
  if (name == "shuffled") return TemporalMode::kShuffled;
  throw Error("--temporal must be video, per-frame or shuffled; got '" + std::string(name) + "'");
}

std::string to_string(TemporalMode mode) {
  switch (mode) {
    case TemporalMode::kVideo:
      return "video";
    case TemporalMode::kPerFrame:
      return "per-frame";
    case TemporalMode::kShuffled:
      return "shuffled";
  }
  return "unknown";
}

torch::Dtype parse_cache_dtype(const std::string& name) {
  require(name == "fp16" || name == "fp32", "--dtype must be fp16 or fp32; got '" + name + "'");
  return nn::parse_dtype(name, "--dtype");
}

double ExtractSummary::busy_fraction() const {
  return loop_seconds > 0 ? backbone_seconds / loop_seconds : 0.0;
}

double ExtractSummary::writer_wait_fraction() const {
  return loop_seconds > 0 ? writer_wait_seconds / loop_seconds : 0.0;
}

double ExtractSummary::clips_per_second() const {
  return loop_seconds > 0 ? static_cast<double>(clips_written) / loop_seconds : 0.0;
}

std::string describe(const ExtractSummary& summary) {
  std::ostringstream out;
  out << summary.clips_written << " clips written, " << summary.clips_skipped << " already done, "
      << std::fixed << std::setprecision(1) << summary.seconds << " s (loop "
      << summary.loop_seconds << " s, " << std::setprecision(3) << summary.clips_per_second()
      << " clips/s, backbone busy " << std::setprecision(1) << 100.0 * summary.busy_fraction()
      << " % of the loop, waiting for writes " << 100.0 * summary.writer_wait_fraction() << " %)";
  return out.str();
}

nlohmann::json summary_json(const ExtractSummary& summary) {
  return {{"clips_written", summary.clips_written},
          {"clips_skipped", summary.clips_skipped},
          {"seconds", summary.seconds},
          {"loop_seconds", summary.loop_seconds},
          {"backbone_seconds", summary.backbone_seconds},
          {"writer_wait_seconds", summary.writer_wait_seconds},
          {"busy_fraction", summary.busy_fraction()},
          {"clips_per_second", summary.clips_per_second()},
          {"loader_threads", summary.loader_threads},
          {"pinned_input", summary.pinned_input}};
}

ExtractSummary extract_features(const ExtractOptions& options) {
  return extract_features_at(options, {{options.point, options.out_dir}}).at(0);
}

namespace {

// The frames a shard covers: the first keep_first, or all that the backbone sees.
int64_t kept_window(const ExtractOptions& options) {
  return options.keep_first > 0 ? options.keep_first : options.frames;
}

void validate(const ExtractOptions& options, const std::vector<ExtractTarget>& targets) {
  require(options.frames >= 1,
          "--frames must be at least 1; got " + std::to_string(options.frames));
  require(options.loader_threads >= 0, "--loader-threads must be 0 (auto) or more; got " +
                                           std::to_string(options.loader_threads));
  require(!targets.empty(), "extract: no extraction point given");
  for (const auto& target : targets) require(!target.out_dir.empty(), "--out is required");
  require(options.keep_first >= 0 && options.keep_first <= options.frames,
          "--keep-first must be between 0 and --frames (" + std::to_string(options.frames) +
              "); got " + std::to_string(options.keep_first));
  if (options.probe_frames > 0)
    probe_frame_indices(kept_window(options), options.probe_frames);  // validates
  require(options.interleaved_clips >= 1,
          "interleaved clips must be at least 1; got " + std::to_string(options.interleaved_clips));
  if (options.interleaved_clips > 1)
    interleaved_clip_frames(options.frames, options.interleaved_clips, 0);  // validates
}

// The frames the backbone sees at once: the clip, or one of its interleaved clips.
int backbone_frames(const ExtractOptions& options) {
  return options.interleaved_clips > 1 ? (options.frames - 1) / options.interleaved_clips + 1
                                       : options.frames;
}

std::unique_ptr<backbones::Backbone> create_extraction_backbone(const ExtractOptions& options,
                                                                torch::Device device,
                                                                torch::Dtype compute_dtype) {
  backbones::BackboneOptions backbone_options;
  backbone_options.weights = options.weights;
  backbone_options.random_init = options.random_init;
  backbone_options.seed = options.seed;
  backbone_options.device = device;
  backbone_options.dtype = compute_dtype;
  backbone_options.extra = options.backbone_options;
  // Options that mean nothing for this backbone are refused, not ignored (as --timestep below).
  require(!options.random_init || backbones::find_backbone(options.backbone).needs_weights,
          "--random-init means nothing for backbone '" + options.backbone +
              "', which has no weights to replace");
  auto backbone = backbones::create_backbone(options.backbone, backbone_options);
  require(!options.noise_per_clip || backbone->default_point().timestep,
          "--noise-per-clip means nothing for backbone '" + options.backbone +
              "', which is not a diffusion model");
  const auto spec = backbone->input_spec();
  const int frames = backbone_frames(options);
  require(frames >= spec.frames_offset + spec.frames_multiple &&
              (frames - spec.frames_offset) % spec.frames_multiple == 0,
          "backbone '" + options.backbone + "' needs clips of " +
              std::to_string(spec.frames_multiple) + "k + " + std::to_string(spec.frames_offset) +
              " frames; --frames is " + std::to_string(options.frames) +
              (options.interleaved_clips > 1 ? " as " + std::to_string(options.interleaved_clips) +
                                                   " interleaved clips of " + std::to_string(frames)
                                             : ""));
  return backbone;
}

std::unique_ptr<Dataset> open_extraction_dataset(const ExtractOptions& options) {
  DatasetOptions dataset_options;
  dataset_options.split = options.split;
  dataset_options.train_ratio = options.train_ratio;
  auto dataset = open_dataset(options.dataset_kind, options.dataset_root, dataset_options);
  require(!dataset->sequences().empty(), "dataset '" + options.dataset_root.string() + "' (" +
                                             options.dataset_kind + ", split " +
                                             to_string(options.split) + ") has no sequences");
  return dataset;
}

// The target's point with the backbone's defaults filled in.
backbones::ExtractionPoint resolve_point(const backbones::Backbone& backbone,
                                         backbones::ExtractionPoint point,
                                         const std::string& backbone_name) {
  // Only diffusion backbones have a denoising timestep (their default point names one).
  require(!point.timestep || backbone.default_point().timestep, [&] {
    return "--timestep " + std::to_string(*point.timestep) + " means nothing for backbone '" +
           backbone_name + "', which is not a diffusion model";
  });
  if (point.layer < 0) point.layer = backbone.default_point().layer;
  if (!point.timestep) point.timestep = backbone.default_point().timestep;
  require(point.layer < backbone.num_layers(),
          "--layer " + std::to_string(point.layer) + " is outside backbone '" + backbone_name +
              "', which has layers 0.." + std::to_string(backbone.num_layers() - 1));
  return point;
}

// One target's shard of a clip: its features (the backbone's distinct maps with their frame index
// when every frame is kept, else the kept frames' maps) next to the clip's ground truth.
FeatureShard make_shard(const Clip& clip, const ClipTensors& inputs, const StoredMaps& all_maps,
                        const backbones::ExtractionPoint& point, const ExtractOptions& options,
                        const std::vector<int64_t>& kept_frames) {
  const int64_t window = kept_window(options);
  const auto maps = options.keep_first > 0 ? first_frames(all_maps, window) : all_maps;
  const auto keep = [&](const torch::Tensor& t) {
    const auto first = t.slice(0, 0, window);
    return kept_frames.empty() ? first
                               : first.index_select(0, torch::tensor(kept_frames, torch::kLong));
  };
  FeatureShard shard;
  shard.clip_id = clip.id;
  const auto& stored = maps.maps;  // in the cache's dtype (run_backbone_timed)
  if (kept_frames.empty()) {
    shard.features = stored;
    if (maps.index.defined()) shard.feature_index = maps.index;
  } else {
    const auto index =
        maps.index.defined() ? keep(maps.index) : keep(torch::arange(stored.size(0)));
    require((index >= 0).all().item<bool>(), "extract: a kept frame has no feature map");
    shard.features = stored.index_select(0, index);
  }
  shard.images = keep(inputs.gt_images);
  shard.depth = keep(inputs.depth);
  shard.valid = keep(inputs.valid);
  if (inputs.confidence.defined()) shard.confidence = keep(inputs.confidence);
  shard.extrinsics = keep(inputs.extrinsics);
  shard.intrinsics = keep(inputs.intrinsics);
  shard.meta = {{"backbone", options.backbone},
                {"layer", std::to_string(point.layer)},
                {"sequence", clip.meta.value("sequence", clip.id)}};
  if (point.timestep) shard.meta["timestep"] = std::to_string(*point.timestep);
  return shard;
}

// A cache extracted with other settings is never mixed with this one. Rank 0 prepares each
// directory (and checks the identity of what is there) before the other ranks open it.
std::vector<CacheWriter> open_writers(const ExtractOptions& options,
                                      const std::vector<ExtractTarget>& targets,
                                      const std::vector<backbones::ExtractionPoint>& points,
                                      const backbones::Backbone& backbone, const GtSize& gt,
                                      torch::Dtype compute_dtype, std::size_t clips) {
  std::vector<CacheWriter> writers;
  const auto role =
      options.group.is_main() ? CacheWriter::Role::kManifestOwner : CacheWriter::Role::kShardWriter;
  dist::main_rank_first(options.group, [&] {
    for (std::size_t k = 0; k < targets.size(); ++k)
      writers.emplace_back(targets[k].out_dir,
                           cache_identity(options, backbone, points[k], gt, compute_dtype),
                           backbone.feature_dim(), role);
    for (auto& writer : writers) writer.expect(clips);
  });
  return writers;
}

// A multi-process run's manifests: every rank's clips, in the order one process records them.
void record_all_ranks(const dist::Group& group, std::vector<CacheWriter>& writers,
                      std::size_t clips) {
  if (!group.distributed()) return;
  for (auto& writer : writers) {
    const auto all = dist::gather_in_item_order(group, writer.done(), clips);
    if (group.is_main()) writer.record_all(all);
  }
  group.barrier();  // the manifests are complete when any rank returns
}

// Every rank's counts, so that each prints the job's totals.
void sum_over_ranks(const dist::Group& group, std::vector<ExtractSummary>& summaries) {
  if (!group.distributed()) return;
  for (auto& summary : summaries) {
    auto counts = torch::tensor({summary.clips_written, summary.clips_skipped}, torch::kInt64)
                      .to(group.device());
    group.all_reduce_sum(counts);
    counts = counts.cpu();
    summary.clips_written = counts[0].item<int64_t>();
    summary.clips_skipped = counts[1].item<int64_t>();
    auto times =
        torch::tensor({summary.loop_seconds, summary.backbone_seconds, summary.writer_wait_seconds},
                      torch::kFloat64)
            .to(group.device());
    group.all_reduce_sum(times);
    times = times.cpu();
    summary.loop_seconds = times[0].item<double>();
    summary.backbone_seconds = times[1].item<double>();
    summary.writer_wait_seconds = times[2].item<double>();
  }
}

// Shards written on threads of their own, up to kShardWritesInFlight clips at once, and recorded
// in the writers' manifests in clip order on the calling thread. One writing thread was too few:
// on an H200 machine a DINOv2-L clip's shard (features to fp16, GT, safetensors) took longer than
// the network, and the loop waited for it 20-41 % of the time (docs/perf.md).
// The jobs reference the caller's writers, points and options: the pending futures' destructors
// wait for them (std::async), so this object must be destroyed before those, as a later local.
class OrderedShardWrites {
 public:
  // Each pending clip holds its inputs and features (an 81-frame 480 x 832 clip: about 0.4 GB).
  static constexpr std::size_t kShardWritesInFlight = 4;

  explicit OrderedShardWrites(std::vector<CacheWriter>& writers) : writers_(writers) {}

  // Records the oldest clips until fewer than kShardWritesInFlight are pending; rethrows a failed
  // write.
  void make_room() {
    while (pending_.size() >= kShardWritesInFlight) record_oldest();
  }
  // A clip whose missing shards `job` writes (an invalid future when none were missing); every
  // target records it once the job is done, its shard then being on disk either way.
  void add(std::string clip_id, std::future<void> job) {
    pending_.push_back({std::move(clip_id), std::move(job)});
  }
  void finish() {
    while (!pending_.empty()) record_oldest();
  }

 private:
  struct Pending {
    std::string clip_id;
    std::future<void> job;
  };
  void record_oldest() {
    Pending oldest = std::move(pending_.front());
    pending_.pop_front();
    if (oldest.job.valid()) oldest.job.get();
    for (auto& writer : writers_) writer.record(oldest.clip_id);
  }

  std::vector<CacheWriter>& writers_;
  std::deque<Pending> pending_;
};

}  // namespace

// ~115 lines: the per-clip step (extract_clip) is a lambda over the state set up here (backbone,
// points, writers, summaries); everything else is in the functions above.
std::vector<ExtractSummary> extract_features_at(const ExtractOptions& options,
                                                const std::vector<ExtractTarget>& targets) {
  validate(options, targets);
  const auto started = std::chrono::steady_clock::now();
  const auto device = options.device;
  const auto compute_dtype = resolve_compute_dtype(options.compute_dtype, device);
  const auto backbone = create_extraction_backbone(options, device, compute_dtype);
  const auto spec = backbone->input_spec();
  const auto gt = gt_size_for(options.gt_size, options.gt_width, spec);
  const auto resize = options.resize;
  if (options.input_processor)
    check_input_processor(*options.input_processor, resize, spec.width, spec.height);
  std::vector<backbones::ExtractionPoint> points;
  for (const auto& target : targets)
    points.push_back(resolve_point(*backbone, target.point, options.backbone));

  const auto dataset = open_extraction_dataset(options);
  const auto& sequences = dataset->sequences();
  ClipSampling sampling;
  sampling.mode = options.sampling;
  sampling.num_frames = options.frames;
  sampling.seed = options.seed;

  auto writers =
      open_writers(options, targets, points, *backbone, gt, compute_dtype, sequences.size());
  std::vector<int64_t> kept_frames;
  if (options.probe_frames > 0)
    kept_frames = probe_frame_indices(kept_window(options), options.probe_frames);

  std::vector<ExtractSummary> summaries(targets.size());
  // Reading, decoding and resizing a clip take as long as the network on a GPU (an 81-frame
  // 480 x 832 clip: seconds), so the next clips are loaded on threads of their own
  // (options.loader_threads) while the backbone works.
  // Finished shards are checked there too, once per target; a clip is never skipped as a whole
  // because each target records its own finished shards (CacheWriter::record, main thread only).
  struct Loaded {
    Clip clip;
    ClipTensors inputs;
    std::vector<bool> held;  // per target: its shard of this clip exists already
  };
  const auto input_memory =
      device.is_cuda() && options.pinned_input ? HostMemory::kPinned : HostMemory::kPageable;
  const auto unit_table = unit_interval_table(device);
  auto load = [&](std::size_t index) -> std::optional<Loaded> {
    Loaded loaded{dataset->sample_clip(sequences[index], sampling), {}, {}};
    for (const auto& writer : writers) loaded.held.push_back(writer.holds(loaded.clip.id));
    if (std::find(loaded.held.begin(), loaded.held.end(), false) != loaded.held.end())
      loaded.inputs = clip_to_tensors(loaded.clip, spec.width, spec.height, gt.width, gt.height,
                                      resize, options.input_processor, input_memory);
    return loaded;
  };
  // The device is timed while it works on a clip (busy_fraction); the shards of the clips before
  // are written on other threads meanwhile (OrderedShardWrites), and recorded in clip order.
  nn::StageMeter meter(device);
  OrderedShardWrites writes(writers);
  auto extract_clip = [&](Loaded loaded) {
    std::vector<std::size_t> missing;
    for (std::size_t k = 0; k < targets.size(); ++k)
      if (!loaded.held[k]) missing.push_back(k);
    std::vector<StoredMaps> features;
    if (!missing.empty()) {
      std::vector<backbones::ExtractionPoint> wanted;
      for (auto k : missing) {
        wanted.push_back(points[k]);
        if (options.noise_per_clip)
          wanted.back().noise_seed =
              SplitMix64(points[k].noise_seed ^ stable_hash(loaded.clip.id)).next();
      }
      features = run_backbone_timed(*backbone, loaded.inputs, unit_table, wanted, options,
                                    options.seed + stable_hash(loaded.clip.id));
    }
    {
      nn::ScopedStage waiting(kWriterWaitStage);
      writes.make_room();
    }
    for (std::size_t k = 0; k < targets.size(); ++k)
      ++(loaded.held[k] ? summaries[k].clips_skipped : summaries[k].clips_written);
    std::future<void> job;
    const auto clip_id = loaded.clip.id;
    // The writer reads the ground truth alone; the input's pixels (pinned on a GPU) go back to
    // their allocator now rather than after the shard is written.
    loaded.inputs.backbone_pixels = torch::Tensor();
    if (!missing.empty())
      job = std::async(std::launch::async,
                       [&, loaded = std::move(loaded), missing, features = std::move(features)] {
                         for (std::size_t m = 0; m < missing.size(); ++m) {
                           const auto k = missing[m];
                           writers[k].store(make_shard(loaded.clip, loaded.inputs, features[m],
                                                       points[k], options, kept_frames));
                         }
                       });
    writes.add(clip_id, std::move(job));
  };
  const int loader_threads = loader_threads_for(
      options.loader_threads, cores_for_this_process(options.group.processes_on_node()));
  const auto loop_started = std::chrono::steady_clock::now();
  run_resumable(
      sequences.size(),
      dist::share_of(
          options.group,
          {.label = "extract " + options.backbone +
                    (targets.size() > 1 ? " at " + std::to_string(targets.size()) + " points" : ""),
           .unit = "clips",
           .prefetch = static_cast<std::size_t>(loader_threads)}),
      load, extract_clip);
  writes.finish();
  for (auto& writer : writers) writer.flush();
  const double loop_seconds = seconds_since(loop_started);
  // CUDA's caching host allocator keeps page-locked blocks until told otherwise; what follows (a
  // sweep trains its probes next) gets that memory back.
  if (input_memory == HostMemory::kPinned) at::getHostAllocator(at::kCUDA)->empty_cache();
  for (auto& summary : summaries) {
    summary.loop_seconds = loop_seconds;
    summary.backbone_seconds = meter.stage(kBackboneStage).seconds;
    summary.writer_wait_seconds = meter.stage(kWriterWaitStage).seconds;
    summary.loader_threads = loader_threads;
    summary.pinned_input = input_memory == HostMemory::kPinned;
  }
  record_all_ranks(options.group, writers, sequences.size());
  const double seconds = seconds_since(started);
  for (auto& summary : summaries) summary.seconds = seconds;
  sum_over_ranks(options.group, summaries);
  return summaries;
}

}  // namespace vidprobe::features
