#include "vidprobe/backbones/vggt/annotate.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <set>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/core/output_directory.h"
#include "vidprobe/core/resumable.h"
#include "vidprobe/data/dataset.h"
#include "vidprobe/data/resize.h"
#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/geometry/camera.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/nn/device.h"

namespace vidprobe::backbones {
namespace {

using nlohmann::json;

// Field-of-view range (radians) kept when decoding VGGT's cameras: ~0.6 to ~179.4 degrees.
constexpr double kMinFov = 1e-2;
constexpr double kMaxFov = 3.13;

template <typename T>
void read_field(const json& object, const std::string& key, T& field, const std::string& where,
                std::set<std::string>& seen) {
  seen.insert(key);
  if (!object.contains(key)) return;
  field =
      json_as<T>(object.at(key), "VGGT configuration " + where + ": bad value for '" + key + "'");
}

void reject_unknown(const json& object, const std::set<std::string>& seen,
                    const std::string& where) {
  for (const auto& [key, value] : object.items())
    require(seen.contains(key), "VGGT configuration " + where + ": unknown key '" + key + "'");
}

// VGGT's "crop" preprocessing: width = size, height = the aspect-preserving height rounded to
// the patch size, centre-cropped to at most size.
ResizeSpec vggt_resize(const Camera& native, int size, int patch) {
  const double scaled = static_cast<double>(native.height) * size / native.width;
  int height = static_cast<int>(std::lround(scaled / patch)) * patch;
  height = std::clamp(height, patch, size);
  return ResizeSpec{size, height, 1};
}

torch::Tensor frames_to_images(const std::vector<Frame>& frames) {
  std::vector<torch::Tensor> images;
  for (const auto& frame : frames) {
    const auto& rgb = frame.rgb;
    auto image = torch::from_blob(const_cast<std::uint8_t*>(rgb.pixels.data()),
                                  {rgb.height, rgb.width, 3}, torch::kUInt8)
                     .permute({2, 0, 1})
                     .to(torch::kFloat32) /
                 255.0;
    images.push_back(image);
  }
  return torch::stack(images).unsqueeze(0);  // (1, S, 3, H, W)
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

VggtConfig vggt_config_from_json(const json& j) {
  require(j.is_object(), "VGGT configuration must be a JSON object");
  VggtConfig c = vggt_1b_config();
  std::set<std::string> seen;
  const std::string where = "";
  read_field(j, "image_size", c.image_size, where, seen);
  read_field(j, "patch_size", c.patch_size, where, seen);
  read_field(j, "width", c.width, where, seen);
  read_field(j, "depth", c.depth, where, seen);
  read_field(j, "heads", c.heads, where, seen);
  read_field(j, "mlp_ratio", c.mlp_ratio, where, seen);
  read_field(j, "register_tokens", c.register_tokens, where, seen);
  read_field(j, "rope_frequency", c.rope_frequency, where, seen);
  read_field(j, "layer_scale_init", c.layer_scale_init, where, seen);
  read_field(j, "dpt_layers", c.dpt_layers, where, seen);
  read_field(j, "dpt_features", c.dpt_features, where, seen);
  read_field(j, "dpt_out_channels", c.dpt_out_channels, where, seen);
  read_field(j, "camera_trunk_depth", c.camera_trunk_depth, where, seen);
  read_field(j, "camera_heads", c.camera_heads, where, seen);
  read_field(j, "camera_iterations", c.camera_iterations, where, seen);
  // The fixture records its input shape next to the architecture; it is not part of the model.
  seen.insert("input");
  c.patch_embed.image_size = c.image_size;
  c.patch_embed.patch_size = c.patch_size;
  c.patch_embed.register_tokens = c.register_tokens;
  c.patch_embed.width = c.width;
  seen.insert("patch_embed");
  if (j.contains("patch_embed")) {
    const auto& pe = j.at("patch_embed");
    require(pe.is_object(), "VGGT configuration: 'patch_embed' must be a JSON object");
    std::set<std::string> pe_seen;
    read_field(pe, "width", c.patch_embed.width, "patch_embed", pe_seen);
    read_field(pe, "depth", c.patch_embed.depth, "patch_embed", pe_seen);
    read_field(pe, "heads", c.patch_embed.heads, "patch_embed", pe_seen);
    read_field(pe, "mlp_ratio", c.patch_embed.mlp_ratio, "patch_embed", pe_seen);
    reject_unknown(pe, pe_seen, "patch_embed");
  }
  reject_unknown(j, seen, where);
  validate(c);
  return c;
}

VggtConfig load_vggt_config(const std::filesystem::path& path) {
  try {
    return vggt_config_from_json(read_json_file(path));
  } catch (const json::exception& e) {
    throw Error("VGGT configuration '" + path.string() + "' is not valid JSON: " + e.what());
  } catch (const Error& e) {
    throw Error("'" + path.string() + "': " + e.what());
  }
}

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

namespace {

void validate(const AnnotateOptions& options) {
  require(!options.out_dir.empty(), "annotate: --out is required");
  require(options.frames > 0,
          "annotate: --frames must be positive, got " + std::to_string(options.frames));
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
  require(options.compute_dtype == torch::kFloat32 || options.compute_dtype == torch::kBFloat16,
          "annotate: --compute-dtype must be fp32 or bf16, got '" +
              nn::dtype_name(options.compute_dtype) + "'");
  require(!options.weights.empty() || options.random_init,
          "annotate: --weights is required (a VGGT checkpoint, e.g. facebook/VGGT-1B's "
          "model.safetensors)");
}

// VGGT's depth (confidence-thresholded) and decoded cameras for a resized clip, in the clip format.
Clip annotate_clip(VggtModel& model, Clip source, torch::Device device,
                   const AnnotateOptions& options) {
  const int H = source.frames.front().camera.height, W = source.frames.front().camera.width;
  torch::NoGradGuard no_grad;
  const auto prediction = model->forward(frames_to_images(source.frames).to(device));
  const auto depth = prediction.depth.squeeze(0).to(torch::kCPU, torch::kFloat32);  // (S,H,W)
  const auto conf = prediction.depth_conf.squeeze(0).to(torch::kCPU, torch::kFloat32);
  const auto threshold =
      torch::quantile(conf.flatten(), options.conf_percentile / 100.0).item<float>();
  const auto valid = (conf >= threshold) & (depth > 0) & torch::isfinite(depth);
  const auto kept_depth = torch::where(valid, depth, torch::zeros_like(depth)).contiguous();
  const auto valid_u8 = valid.to(torch::kUInt8).contiguous();
  // The FoV head is a ReLU: a field of view of 0 (an untrained or failing model) would give an
  // infinite focal length, which the clip format cannot hold. Such FoVs are clamped and counted.
  auto encoding = prediction.pose_encoding().squeeze(0).to(torch::kCPU, torch::kFloat64);
  const auto fov = encoding.slice(-1, 7, 9);
  const auto fov_clamped = (fov < kMinFov) | (fov > kMaxFov) | ~torch::isfinite(fov);
  const auto clamped_frames = fov_clamped.any(-1).sum().item<int64_t>();
  encoding.slice(-1, 7, 9).copy_(torch::nan_to_num(fov, kMinFov).clamp(kMinFov, kMaxFov));
  require(torch::isfinite(encoding).all().item<bool>(),
          "annotate: VGGT predicted a non-finite camera for clip '" + source.id + "'");
  const auto [extrinsics, intrinsics] =
      geometry::pose_encoding_to_extrinsics_intrinsics(encoding, H, W);

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
    frame.camera.width = W;
    frame.camera.height = H;
    frame.camera.K = matrix3(intrinsics[si]);
    frame.camera.cam_from_world = matrix34(extrinsics[si]);
    frame.source = source.frames[s].source;
    annotated.frames.push_back(std::move(frame));
  }
  annotated.meta = {{"generator", "vidprobe annotate"},
                    {"annotator",
                     {{"model", "VGGT"},
                      {"architecture", architecture_text(options.config)},
                      {"weights", options.weights.empty() ? "random-init" : options.weights},
                      {"input_size", {W, H}},
                      {"conf_percentile", options.conf_percentile},
                      {"conf_threshold", threshold},
                      {"fov_clamped_frames", clamped_frames},
                      {"compute_dtype", nn::dtype_name(options.compute_dtype)}}},
                    {"cameras",
                     "VGGT pose encoding (absT_quaR_FoV) decoded: principal point at (W/2, H/2), "
                     "first camera = world; scale is VGGT's (normalised), not metres"},
                    {"source", source.meta}};
  return annotated;
}

}  // namespace

AnnotateSummary annotate_with_vggt(const AnnotateOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  validate(options);
  DatasetOptions dataset_options;
  dataset_options.split = options.split;
  dataset_options.train_ratio = options.train_ratio;
  const auto dataset = open_dataset(options.dataset_kind, options.dataset_root, dataset_options);
  std::vector<std::string> sequences = dataset->sequences();
  if (options.clips > 0 && static_cast<std::size_t>(options.clips) < sequences.size())
    sequences.resize(static_cast<std::size_t>(options.clips));
  std::vector<std::string> mine;
  for (std::size_t i = 0; i < sequences.size(); ++i)
    if (static_cast<int>(i % static_cast<std::size_t>(options.shard_count)) == options.shard_index)
      mine.push_back(sequences[i]);

  ClipSampling sampling;
  sampling.mode = options.sampling;
  sampling.num_frames = options.frames;
  sampling.seed = options.seed;

  const auto device = options.device;
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

  prepare_output_directory(options.out_dir, "annotate");
  const int patch = options.config.patch_size;
  // The clip id depends on the frame indices only, so a finished clip is skipped before any pixel
  // is read; the next clip is read and resized while VGGT works on the current one.
  auto load = [&](std::size_t i) -> std::optional<Clip> {
    const auto& sequence = mine[i];
    ClipSampling seeded = sampling;  // seeded per sequence as Dataset::sample_clip does
    seeded.seed = SplitMix64(sampling.seed ^ stable_hash(sequence)).next();
    const auto indices = sample_frame_indices(dataset->num_frames(sequence), seeded);
    if (synthetic_clip_exists(options.out_dir, clip_id(sequence, indices))) return std::nullopt;
    Clip source = dataset->load_clip(sequence, indices);
    source.meta["sampling"] = {{"mode", to_string(options.sampling)}, {"seed", options.seed}};
    const auto spec = vggt_resize(source.frames.front().camera, options.image_size, patch);
    for (auto& frame : source.frames) frame = resize_and_center_crop(frame, spec);
    return source;
  };
  const auto counts = run_resumable(
      mine.size(), {.label = "annotate", .unit = "clips", .prefetch = true}, load,
      [&](Clip source) {
        write_synthetic_clip(options.out_dir,
                             annotate_clip(model, std::move(source), device, options));
      });
  AnnotateSummary summary;
  summary.clips_written = static_cast<std::int64_t>(counts.processed);
  summary.clips_skipped = static_cast<std::int64_t>(counts.skipped);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace vidprobe::backbones
