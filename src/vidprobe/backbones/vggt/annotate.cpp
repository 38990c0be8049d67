#include "vidprobe/backbones/vggt/annotate.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <set>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/core/output_directory.h"
#include "vidprobe/core/resumable.h"
#include "vidprobe/data/dataset.h"
#include "vidprobe/data/pil_resample.h"
#include "vidprobe/data/resize.h"
#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/data/vidfm3d_processing.h"
#include "vidprobe/geometry/camera.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors_torch.h"
#include "vidprobe/nn/device.h"

namespace vidprobe::backbones {
namespace {

using nlohmann::json;

// extract_points.py's --mask-threshold default (process_co3d.py passes none).
constexpr float kVidfm3dMaskThreshold = 0.99f;

// Field-of-view range (radians) kept when decoding VGGT's cameras: ~0.6 to ~179.4 degrees.
constexpr double kMinFov = 1e-2;
constexpr double kMaxFov = 3.13;

// The frames' RGB as one (S, 3, H, W) uint8 tensor. Each frame is copied in one piece, outside
// libtorch's OpenMP regions: while a prefetch thread keeps a core busy, each region's closing
// barrier can wait for the worker that shares that core, and the per-frame conversions this
// replaces opened about 160 regions in every 81-frame VGGT forward (docs/perf.md, "VGGT-1B
// against the authors' code").
torch::Tensor frames_to_bytes(const std::vector<Frame>& frames) {
  require(!frames.empty(), "annotate: a clip without frames");
  const auto& first = frames.front().rgb;
  auto bytes = torch::empty({static_cast<int64_t>(frames.size()), first.height, first.width, 3},
                            torch::kUInt8);
  auto* out = bytes.data_ptr<std::uint8_t>();
  for (const auto& frame : frames) {
    require(frame.rgb.width == first.width && frame.rgb.height == first.height &&
                frame.rgb.channels == 3 &&
                frame.rgb.pixels.size() == static_cast<std::size_t>(first.width) * first.height * 3,
            "annotate: frame '" + frame.source +
                "' is not an RGB image of the clip's first "
                "frame's size (" +
                std::to_string(first.width) + " x " + std::to_string(first.height) + ")");
    out = std::copy(frame.rgb.pixels.begin(), frame.rgb.pixels.end(), out);
  }
  return bytes.permute({0, 3, 1, 2});
}

// What each byte value becomes: the 256 quotients k / 255 in float32, divided on the CPU as their
// ToTensor divides (a CUDA division by a scalar multiplies by its reciprocal, which can differ
// in the last bit).
torch::Tensor pixel_levels() {
  return torch::arange(256, torch::kFloat32) / 255.0;
}

// `table`[byte] for every byte of the clip, on `table`'s device, (S, 3, H, W).
torch::Tensor look_up_bytes(const torch::Tensor& table, const std::vector<Frame>& frames) {
  const auto bytes = frames_to_bytes(frames).to(table.device()).contiguous();
  return table.index_select(0, bytes.flatten().to(torch::kInt32)).view(bytes.sizes());
}

// VGGT's input (1, S, 3, H, W) on `device`: each pixel / 255 in float32, looked up where the
// model runs, so a GPU run sees the values a CPU run sees.
torch::Tensor frames_to_images(const std::vector<Frame>& frames, torch::Device device) {
  return look_up_bytes(pixel_levels().to(device), frames).unsqueeze(0);
}

std::array<double, 9> matrix3(const torch::Tensor& m) {
  const auto c = m.to(torch::kCPU, torch::kFloat64).contiguous();
  std::array<double, 9> out{};
  std::copy_n(c.data_ptr<double>(), 9, out.begin());
  return out;
}

std::array<double, 12> matrix34(const torch::Tensor& m) {
  const auto c = m.to(torch::kCPU, torch::kFloat64).contiguous();
  std::array<double, 12> out{};
  std::copy_n(c.data_ptr<double>(), 12, out.begin());
  return out;
}

}  // namespace

std::pair<int, int> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  int index = -1, count = 0;
  try {
    require(slash != std::string::npos, "");
    std::size_t used = 0;
    index = std::stoi(text.substr(0, slash), &used);
    require(used == slash, "");
    const auto rest = text.substr(slash + 1);
    count = std::stoi(rest, &used);
    require(used == rest.size(), "");
  } catch (const std::exception&) {
    throw Error("--shard must be i/n (e.g. 0/4), got '" + text + "'");
  }
  require(count > 0 && index >= 0 && index < count,
          "--shard i/n needs 0 <= i < n, got '" + text + "'");
  return {index, count};
}

Frame vggt_crop_preprocess(const Frame& frame, int size, int patch) {
  const int width = frame.camera.width, height = frame.camera.height;
  require(width > 0 && height > 0, "VGGT preprocessing: frame '" + frame.source + "' is empty");
  // round() of a float in their code: Python rounds halves to even, as nearbyint does.
  const int new_height =
      static_cast<int>(std::nearbyint(static_cast<double>(height) *
                                      (static_cast<double>(size) / width) / patch)) *
      patch;
  require(new_height > 0, "VGGT preprocessing: frame '" + frame.source + "' (" +
                              std::to_string(width) + " x " + std::to_string(height) +
                              ") is too flat for a " + std::to_string(size) + " wide input");
  Frame out;
  out.rgb = pil_resize(frame.rgb, size, new_height, PilFilter::kBicubic);
  if (!frame.depth.pixels.empty()) out.depth = resize_nearest(frame.depth, size, new_height);
  if (!frame.valid.pixels.empty()) out.valid = resize_nearest(frame.valid, size, new_height);
  if (!frame.confidence.empty())
    out.confidence = resize_nearest(frame.confidence, size, new_height);
  // Their extract_points.py sends the masks through load_and_preprocess_images like the images.
  if (!frame.object_mask.empty())
    out.object_mask = pil_resize(frame.object_mask, size, new_height, PilFilter::kBicubic);
  out.camera = scale_camera(frame.camera, size, new_height);
  out.source = frame.source;
  if (new_height <= size) return out;
  return crop_frame(out, 0, (new_height - size) / 2, size, size);
}

namespace {

void validate(const AnnotateOptions& options) {
  require(!options.out_dir.empty(), "annotate: --out is required");
  require(options.frames >= 0,
          "annotate: --frames must be positive or 'all', got " + std::to_string(options.frames));
  require(options.window >= 0,
          "annotate: --window must be >= 0, got " + std::to_string(options.window));
  require(options.frame_chunk > 0,
          "annotate: --frame-chunk must be positive, got " + std::to_string(options.frame_chunk));
  require(options.prefetch >= 0,
          "annotate: --prefetch must not be negative, got " + std::to_string(options.prefetch));
  require(options.format == "clip" || options.format == "vidfm3d",
          "annotate: --format must be clip or vidfm3d, got '" + options.format + "'");
  require(options.clips >= 0,
          "annotate: --clips must be >= 0, got " + std::to_string(options.clips));
  require(options.conf_percentile >= 0 && options.conf_percentile < 100,
          "annotate: --conf-percentile must be in [0, 100), got " +
              std::to_string(options.conf_percentile));
  require(options.shard_count > 0 && options.shard_index >= 0 &&
              options.shard_index < options.shard_count,
          "annotate: shard " + std::to_string(options.shard_index) + "/" +
              std::to_string(options.shard_count) + " is out of range");
  require(options.image_size > 0 && options.image_size % options.config.patch_size == 0,
          "annotate: --backbone-size " + std::to_string(options.image_size) +
              " must be a positive multiple of the patch size " +
              std::to_string(options.config.patch_size));
  require(options.co3d_crop == "none" || options.co3d_crop == "vidfm3d",
          "annotate: --co3d-crop must be none or vidfm3d, got '" + options.co3d_crop + "'");
  require(options.co3d_crop == "none" || options.dataset_kind == "co3d",
          "annotate: --co3d-crop " + options.co3d_crop +
              " crops CO3D sequences; it means nothing "
              "with --data-kind " +
              options.dataset_kind);
  require(options.compute_dtype == torch::kFloat32 || options.compute_dtype == torch::kBFloat16,
          "annotate: --compute-dtype must be fp32 or bf16, got '" +
              nn::dtype_name(options.compute_dtype) + "'");
  require(!options.weights.empty() || options.random_init,
          "annotate: --weights is required (a VGGT checkpoint, e.g. facebook/VGGT-1B's "
          "model.safetensors)");
}

// VGGT's depth, depth confidence and decoded cameras for one preprocessed clip (CPU tensors).
struct VggtAnnotation {
  torch::Tensor depth, conf;             // (S, H, W) float32
  torch::Tensor extrinsics, intrinsics;  // (S, 3, 4), (S, 3, 3) float64
  int64_t clamped_frames = 0;
  double seconds = 0;  // the forward, recorded in the output's metadata
};

VggtAnnotation predict(VggtModel& model, const Clip& source, torch::Device device,
                       const AnnotateOptions& options) {
  const int H = source.frames.front().camera.height, W = source.frames.front().camera.width;
  torch::NoGradGuard no_grad;
  const auto prediction = model->forward_depth_and_cameras(frames_to_images(source.frames, device),
                                                           options.frame_chunk);
  VggtAnnotation out;
  out.depth = prediction.depth.squeeze(0).to(torch::kCPU, torch::kFloat32).contiguous();
  out.conf = prediction.depth_conf.squeeze(0).to(torch::kCPU, torch::kFloat32).contiguous();
  // The FoV head is a ReLU: a field of view of 0 (an untrained or failing model) would give an
  // infinite focal length, which the clip format cannot hold. Such FoVs are clamped and counted.
  auto encoding = prediction.pose_encoding().squeeze(0).to(torch::kCPU, torch::kFloat64);
  const auto fov = encoding.slice(-1, 7, 9);
  const auto fov_clamped = (fov < kMinFov) | (fov > kMaxFov) | ~torch::isfinite(fov);
  out.clamped_frames = fov_clamped.any(-1).sum().item<int64_t>();
  encoding.slice(-1, 7, 9).copy_(torch::nan_to_num(fov, kMinFov).clamp(kMinFov, kMaxFov));
  require(torch::isfinite(encoding).all().item<bool>(),
          "annotate: VGGT predicted a non-finite camera for clip '" + source.id + "'");
  std::tie(out.extrinsics, out.intrinsics) =
      geometry::pose_encoding_to_extrinsics_intrinsics(encoding, H, W);
  return out;
}

nlohmann::json annotator_meta(const AnnotateOptions& options, int W, int H,
                              const VggtAnnotation& a) {
  return {{"model", "VGGT"},
          {"architecture", architecture_text(options.config)},
          {"weights", options.weights.empty() ? "random-init" : options.weights},
          {"input_size", {W, H}},
          {"preprocessing", "VGGT load_and_preprocess_images crop mode (Pillow bicubic)"},
          {"conf_percentile", options.conf_percentile},
          {"fov_clamped_frames", a.clamped_frames},
          {"frames", a.depth.size(0)},
          {"frame_chunk", options.frame_chunk},
          {"device", options.device.str()},
          {"compute_dtype", nn::dtype_name(options.compute_dtype)}};
}

// torch.quantile's linear interpolation, by sorting: torch::quantile refuses inputs of more than
// 2^24 elements, and a 150-frame window at 294 x 518 has 22.8 M.
float percentile(const torch::Tensor& values, double percent) {
  const auto sorted = std::get<0>(values.flatten().to(torch::kFloat64).sort());
  const auto n = sorted.numel();
  const double position = percent / 100.0 * static_cast<double>(n - 1);
  const auto low = static_cast<int64_t>(std::floor(position));
  const auto high = std::min(low + 1, n - 1);
  const double lo = sorted[low].item<double>(), hi = sorted[high].item<double>();
  return static_cast<float>(lo + (hi - lo) * (position - static_cast<double>(low)));
}

// The clip format: depth below the confidence percentile is cut (valid = 0, depth 0); the
// continuous confidence is kept beside it (0 where it is not finite: such pixels are invalid).
Clip to_clip(Clip source, const VggtAnnotation& a, const AnnotateOptions& options) {
  const int H = source.frames.front().camera.height, W = source.frames.front().camera.width;
  const auto threshold = percentile(a.conf, options.conf_percentile);
  const auto finite_conf = torch::isfinite(a.conf);
  const auto valid = (a.conf >= threshold) & finite_conf & (a.depth > 0) & torch::isfinite(a.depth);
  const auto kept_depth = torch::where(valid, a.depth, torch::zeros_like(a.depth)).contiguous();
  const auto confidence = torch::where(finite_conf, a.conf, torch::zeros_like(a.conf)).contiguous();
  const auto valid_u8 = valid.to(torch::kUInt8).contiguous();
  Clip annotated;
  annotated.id = source.id;
  for (std::size_t s = 0; s < source.frames.size(); ++s) {
    const auto si = static_cast<int64_t>(s);
    Frame frame;
    frame.rgb = std::move(source.frames[s].rgb);
    frame.depth = ImageF32(W, H, 1);
    std::copy_n(kept_depth[si].data_ptr<float>(), W * H, frame.depth.pixels.begin());
    frame.valid = ImageU8(W, H, 1);
    std::copy_n(valid_u8[si].data_ptr<std::uint8_t>(), W * H, frame.valid.pixels.begin());
    frame.confidence = ImageF32(W, H, 1);
    std::copy_n(confidence[si].data_ptr<float>(), W * H, frame.confidence.pixels.begin());
    frame.camera.width = W;
    frame.camera.height = H;
    frame.camera.K = matrix3(a.intrinsics[si]);
    frame.camera.cam_from_world = matrix34(a.extrinsics[si]);
    frame.source = source.frames[s].source;
    annotated.frames.push_back(std::move(frame));
  }
  auto annotator = annotator_meta(options, W, H, a);
  annotator["conf_threshold"] = threshold;
  annotated.meta = {{"generator", "vidprobe annotate"},
                    {"annotator", annotator},
                    {"cameras",
                     "VGGT pose encoding (absT_quaR_FoV) decoded: principal point at (W/2, H/2), "
                     "first camera = world; scale is VGGT's (normalised), not metres"},
                    {"source", source.meta}};
  return annotated;
}

// (subset, name) of a sequence in the authors' layout: "<category>/<sequence>" and DL3DV's
// "<subset>/<hash>" split at the last '/'; a flat id goes into a subset named after the dataset.
std::pair<std::string, std::string> vidfm3d_scene_name(const std::string& sequence,
                                                       const std::string& dataset_kind) {
  const auto slash = sequence.rfind('/');
  if (slash == std::string::npos) return {dataset_kind, sequence};
  auto subset = sequence.substr(0, slash);
  std::replace(subset.begin(), subset.end(), '/', '_');
  return {subset, sequence.substr(slash + 1)};
}

// <out>/rejected.json: a list of {"sequence", "category", "reason"} plus, where a window was
// judged, "truncation" and "upsample" (null where their message says upx=inf: no window had a
// mask on every frame); [] when none was dropped. Every shard writes the same list.
std::filesystem::path write_rejected_list(const Dataset& dataset, const AnnotateOptions& options) {
  auto list = json::array();
  for (const auto& rejected : dataset.rejected_sequences()) {
    json entry = {{"sequence", rejected.sequence},
                  {"category", vidfm3d_scene_name(rejected.sequence, options.dataset_kind).first},
                  {"reason", rejected.reason}};
    if (rejected.truncation) entry["truncation"] = *rejected.truncation;
    if (rejected.upsample)
      entry["upsample"] = std::isfinite(*rejected.upsample) ? json(*rejected.upsample) : json();
    list.push_back(std::move(entry));
  }
  const auto path = options.out_dir / "rejected.json";
  write_file_atomically(path, list.dump(2) + "\n");
  return path;
}

std::filesystem::path vidfm3d_scene_path(const AnnotateOptions& options,
                                         const std::string& sequence) {
  const auto [subset, name] = vidfm3d_scene_name(sequence, options.dataset_kind);
  return options.out_dir / subset / (name + ".sft");
}

// Their images tensor: the model input (Pillow pixels / 255 in float32) times 255, truncated to
// uint8 (extract_points.py: `(images * 255).to(torch.uint8)`), so a few levels come out one lower.
// Per byte value, not per pixel: the same arithmetic on the 256 levels VGGT's input holds.
torch::Tensor vidfm3d_images(const std::vector<Frame>& frames) {
  return look_up_bytes((pixel_levels() * 255.0f).to(torch::kUInt8), frames);
}

// Their CO3D masks (co3d/extract_points.py): the preprocessed mask image / 255 > mask_threshold
// (0.99 by default, compared in float32 as torch does), bool (S, H, W, 1); undefined when the
// frames carry no object mask (DL3DV).
torch::Tensor vidfm3d_masks(const Clip& clip) {
  const auto has_mask = [](const Frame& frame) { return !frame.object_mask.empty(); };
  if (std::none_of(clip.frames.begin(), clip.frames.end(), has_mask)) return {};
  require(std::all_of(clip.frames.begin(), clip.frames.end(), has_mask),
          "annotate: clip '" + clip.id + "' has an object mask on some frames only");
  std::vector<torch::Tensor> masks;
  for (const auto& frame : clip.frames) {
    const auto& mask = frame.object_mask;
    masks.push_back(torch::from_blob(const_cast<std::uint8_t*>(mask.pixels.data()),
                                     {mask.height, mask.width, 1}, torch::kUInt8)
                        .to(torch::kFloat32)
                        .div(255.0f)
                        .gt(kVidfm3dMaskThreshold));
  }
  return torch::stack(masks);
}

// The authors' GT file (extract_points.py): points unprojected from the depth with the decoded
// cameras (not the point head), the continuous depth_conf as confmaps, CO3D's object masks.
void write_vidfm3d_scene(const std::filesystem::path& path, const Clip& source,
                         const VggtAnnotation& a, int start, const AnnotateOptions& options) {
  const int H = source.frames.front().camera.height, W = source.frames.front().camera.width;
  const auto points =
      geometry::depth_to_world_points(a.depth.to(torch::kFloat64), a.intrinsics, a.extrinsics);
  TensorMap tensors{
      {"images", vidfm3d_images(source.frames)},
      {"depthmaps", a.depth.unsqueeze(-1)},
      {"pointmaps", points.to(torch::kFloat32)},
      {"confmaps", a.conf.unsqueeze(-1)},
      {"intrinsic", a.intrinsics.to(torch::kFloat32)},
      {"extrinsic", a.extrinsics.to(torch::kFloat32)},
      {"start_idx", torch::tensor(start, torch::kInt32)},
  };
  if (auto masks = vidfm3d_masks(source); masks.defined()) tensors.emplace("masks", masks);
  auto annotator = annotator_meta(options, W, H, a);
  annotator["vggt_seconds"] = a.seconds;  // timing: only in this format's metadata
  const nlohmann::json meta = {
      {"generator", "vidprobe annotate"}, {"annotator", annotator}, {"source", source.meta}};
  std::filesystem::create_directories(path.parent_path());
  save_safetensors(path, tensors, {{"vidprobe", meta.dump()}});
}

// train.json / val.json over every scene file present, as their create_split.py (sorted,
// random.seed(0) shuffle, 10 % validation; DL3DV outliers dropped).
void write_vidfm3d_split(const AnnotateOptions& options) {
  std::vector<std::pair<std::string, std::string>> scenes;
  for (const auto& subset : std::filesystem::directory_iterator(options.out_dir)) {
    if (!subset.is_directory()) continue;
    for (const auto& file : std::filesystem::directory_iterator(subset.path()))
      if (file.is_regular_file() && file.path().extension() == ".sft" &&
          file.path().filename().string().find(".tmp.") == std::string::npos)
        scenes.emplace_back(subset.path().filename().string(), file.path().stem().string());
  }
  if (scenes.empty()) return;
  const auto split = vidfm3d_split(scenes, options.dataset_kind == "dl3dv");
  auto as_json = [](const auto& list) {
    auto out = nlohmann::json::array();
    for (const auto& [subset, name] : list) out.push_back({subset, name});
    return out;
  };
  write_file_atomically(options.out_dir / "train.json", as_json(split.train).dump(2) + "\n");
  write_file_atomically(options.out_dir / "val.json", as_json(split.val).dump(2) + "\n");
}

// The frames of a sequence: a seeded window, every frame, or the sampling's choice.
std::vector<int> annotate_frame_indices(int num_frames, const std::string& sequence,
                                        const AnnotateOptions& options) {
  const auto sequence_seed = SplitMix64(options.seed ^ stable_hash(sequence)).next();
  if (options.window > 0) {
    const int start = dl3dv_window_start(num_frames, options.window, sequence_seed);
    std::vector<int> indices(static_cast<std::size_t>(options.window));
    std::iota(indices.begin(), indices.end(), start);
    return indices;
  }
  if (options.frames == 0) {
    std::vector<int> indices(static_cast<std::size_t>(num_frames));
    std::iota(indices.begin(), indices.end(), 0);
    return indices;
  }
  ClipSampling sampling;  // seeded per sequence as Dataset::sample_clip does
  sampling.mode = options.sampling;
  sampling.num_frames = options.frames;
  sampling.seed = sequence_seed;
  return sample_frame_indices(num_frames, sampling);
}

}  // namespace

AnnotateSummary annotate_with_vggt(const AnnotateOptions& options) {
  const auto run_start = std::chrono::steady_clock::now();
  validate(options);
  DatasetOptions dataset_options;
  dataset_options.split = options.split;
  dataset_options.train_ratio = options.train_ratio;
  dataset_options.dl3dv_downscale = options.dl3dv_downscale;
  if (options.co3d_crop == "vidfm3d")
    dataset_options.co3d_vidfm3d_crop = Co3dWindowOptions{.rgb_jpeg_round_trip = options.co3d_jpeg};
  const auto dataset = open_dataset(options.dataset_kind, options.dataset_root, dataset_options);
  std::vector<std::string> sequences = dataset->sequences();
  if (options.clips > 0 && static_cast<std::size_t>(options.clips) < sequences.size())
    sequences.resize(static_cast<std::size_t>(options.clips));
  std::vector<std::string> mine;
  for (std::size_t i = 0; i < sequences.size(); ++i)
    if (static_cast<int>(i % static_cast<std::size_t>(options.shard_count)) == options.shard_index)
      mine.push_back(sequences[i]);

  const auto device = options.device;
  const auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  const auto model_start = std::chrono::steady_clock::now();
  torch::manual_seed(static_cast<int64_t>(options.seed));
  VggtModel model{nullptr};
  if (options.weights.empty()) {
    model = VggtModel(options.config);
    model->eval();
  } else {
    model = load_vggt_model(options.weights, options.config);
  }
  model->to(device);
  // bf16 for the aggregator only; the heads run in float32 (VggtModel casts their input).
  if (options.compute_dtype == torch::kBFloat16) model->aggregator->to(torch::kBFloat16);
  AnnotateSummary summary;
  summary.model_seconds = seconds_since(model_start);

  prepare_output_directory(options.out_dir, "annotate");
  summary.rejected_file = write_rejected_list(*dataset, options);
  summary.sequences_rejected = static_cast<std::int64_t>(dataset->rejected_sequences().size());
  const int patch = options.config.patch_size;
  const bool vidfm3d = options.format == "vidfm3d";
  // The output name depends on the frame indices only, so a finished clip is skipped before any
  // pixel is read; with --prefetch N the next N clips are read and resized while VGGT works on
  // the current one.
  auto load = [&](std::size_t i) -> std::optional<Clip> {
    const auto& sequence = mine[i];
    const auto indices = annotate_frame_indices(dataset->num_frames(sequence), sequence, options);
    if (vidfm3d ? std::filesystem::exists(vidfm3d_scene_path(options, sequence))
                : synthetic_clip_exists(options.out_dir, clip_id(sequence, indices)))
      return std::nullopt;
    Clip source = dataset->load_clip(sequence, indices);
    source.meta["sampling"] = {{"mode", options.window > 0    ? "window"
                                        : options.frames == 0 ? "all"
                                                              : to_string(options.sampling)},
                               {"seed", options.seed},
                               {"start", indices.front()}};
    source.meta["sequence"] = sequence;
    for (auto& frame : source.frames)
      frame = vggt_crop_preprocess(frame, options.image_size, patch);
    return source;
  };
  const auto counts = run_resumable(
      mine.size(),
      {.label = "annotate",
       .unit = "clips",
       .prefetch = static_cast<std::size_t>(options.prefetch)},
      load, [&](Clip source) {
        const auto forward_start = std::chrono::steady_clock::now();
        auto annotation = predict(model, source, device, options);  // ends on the CPU: synced
        annotation.seconds = seconds_since(forward_start);
        summary.vggt_seconds += annotation.seconds;
        if (vidfm3d) {
          const auto sequence = source.meta.at("sequence").get<std::string>();
          const int start = source.meta.at("sampling").at("start").get<int>();
          write_vidfm3d_scene(vidfm3d_scene_path(options, sequence), source, annotation, start,
                              options);
        } else {
          write_synthetic_clip(options.out_dir, to_clip(std::move(source), annotation, options));
        }
      });
  if (vidfm3d) write_vidfm3d_split(options);
  summary.clips_written = static_cast<std::int64_t>(counts.processed);
  summary.clips_skipped = static_cast<std::int64_t>(counts.skipped);
  summary.seconds = seconds_since(run_start);
  return summary;
}

}  // namespace vidprobe::backbones
