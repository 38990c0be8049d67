#include "vidprobe/features/vidfm3d_import.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/core/resumable.h"
#include "vidprobe/data/camera_validation.h"
#include "vidprobe/features/feature_cache.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::features {
namespace fs = std::filesystem;
namespace {

// The video frames their WAN/Open-Sora features cover (81 frames -> 21 latents).
constexpr int64_t kLatentVideoFrames = 81;

// floor((f - 1) / (span) * (maps - 1)) + 1 in float32, as their torch arithmetic: the float
// rounding decides a few frames (DINOv2 over 76 frames: frames 50 and 64).
int64_t float_map(int64_t frame, int64_t span, int64_t maps) {
  const float position =
      static_cast<float>(frame - 1) / static_cast<float>(span) * static_cast<float>(maps - 1);
  return static_cast<int64_t>(std::floor(position)) + 1;
}

// Frame f >= 1 of a layout of `clips` interleaved clips (frame 0 shared): clip (f - 1) mod
// clips, position (f - 1) div clips + 1 in it.
int64_t interleaved_map(int64_t frame, int64_t clips, int64_t maps_per_clip, int64_t frames_per_map,
                        bool first_is_own) {
  const int64_t offset = frame - 1;
  const int64_t clip = offset % clips, position = offset / clips + 1;
  const int64_t token =
      first_is_own ? (position - 1) / frames_per_map + 1 : position / frames_per_map;
  return token < maps_per_clip ? clip * maps_per_clip + token : -1;
}

// One frame's map; -1 where their dataset never reads one.
int64_t frame_map(const std::string& model, int64_t f, int64_t maps, int64_t context) {
  if (f == 0) return 0;
  if (model == "wan" || model == "opensora") {
    // Their dataset keeps the latents of the first `context` frames only.
    const auto kept = static_cast<int64_t>(std::ceil(static_cast<float>(context - 1) /
                                                     (kLatentVideoFrames - 1) * (maps - 1))) +
                      1;
    const auto m = float_map(f, kLatentVideoFrames - 1, maps);
    return f < context && m < std::min(kept, maps) ? m : -1;
  }
  if (model == "dino" || model == "f3r") {
    const auto kept = std::min(maps, context);  // their features[:context]
    return f < kept ? float_map(f, context - 1, kept) : -1;
  }
  if (model == "vjepa") return f < context ? interleaved_map(f, 5, maps / 5, 2, false) : -1;
  // cogvideox, aether: 2 clips of 1 + 4k frames sharing frame 0, 4 frames a latent.
  return interleaved_map(f, 2, maps / 2, 4, true);
}

// Their feature file as (maps, C, h, w): flattened over clips, channel-first.
torch::Tensor read_features(const fs::path& path, const std::string& model) {
  const auto file = SafetensorsFile::open(path);
  require(file.contains("feat"), "feature file '" + path.string() + "' has no key 'feat'");
  auto feat = to_tensor(file.view("feat"));
  require(feat.is_floating_point(), "feature file '" + path.string() +
                                        "': 'feat' must be floating point, got " +
                                        std::string(c10::toString(feat.scalar_type())));
  const bool clips = model == "vjepa" || model == "cogvideox" || model == "aether";
  const int64_t dims = clips ? 5 : 4;
  require(feat.dim() == dims, "feature file '" + path.string() + "': 'feat' of a " + model +
                                  " model must have " + std::to_string(dims) +
                                  " dimensions (channel-last), got " + c10::str(feat.sizes()));
  if (model == "wan" || model == "opensora")
    require(feat.size(0) == 21, "feature file '" + path.string() +
                                    "': 'feat' must hold 21 "
                                    "latent frames, got " +
                                    c10::str(feat.sizes()));
  if (model == "vjepa")
    require(feat.size(0) == 5 && feat.size(1) == 8, "feature file '" + path.string() +
                                                        "': 'feat' must be (5, 8, h, w, C), got " +
                                                        c10::str(feat.sizes()));
  if (model == "cogvideox" || model == "aether")
    require(feat.size(0) == 2 && (feat.size(1) == 11 || feat.size(1) == 13),
            "feature file '" + path.string() + "': 'feat' must be (2, 11 or 13, h, w, C), got " +
                c10::str(feat.sizes()));
  require(feat.numel() > 0 && torch::isfinite(feat).all().item<bool>(),
          "feature file '" + path.string() + "': 'feat' " + c10::str(feat.sizes()) +
              " is empty or holds a non-finite value");
  if (clips) feat = feat.flatten(0, 1);
  return feat.permute({0, 3, 1, 2}).contiguous();
}

// A scene tensor of `dims` dimensions: uint8 images, floating point otherwise (integer data in a
// depth or camera tensor would be converted silently by the caller's .to()).
torch::Tensor required(const TensorMap& tensors, const std::string& key, const fs::path& path,
                       int64_t dims) {
  const auto it = tensors.find(key);
  require(it != tensors.end(), "scene file '" + path.string() + "' has no tensor '" + key + "'");
  require(it->second.dim() == dims, "scene file '" + path.string() + "': '" + key + "' must have " +
                                        std::to_string(dims) + " dimensions, got " +
                                        c10::str(it->second.sizes()));
  const bool images = key == "images";
  require(images ? it->second.scalar_type() == torch::kUInt8 : it->second.is_floating_point(),
          "scene file '" + path.string() + "': '" + key + "' must be " +
              (images ? "uint8" : "floating point") + ", got " +
              std::string(c10::toString(it->second.scalar_type())));
  return it->second;
}

// Every frame's camera passes the check of every dataset reader, and depth and confidence are
// finite (a NaN would reach the losses as a target).
void validate_scene_values(const FeatureShard& shard, const fs::path& path) {
  require(torch::isfinite(shard.depth).all().item<bool>() &&
              torch::isfinite(shard.confidence).all().item<bool>(),
          "scene file '" + path.string() + "': 'depthmaps' or 'confmaps' holds a non-finite value");
  require(shard.extrinsics.dim() == 3 && shard.extrinsics.size(1) == 3 &&
              shard.extrinsics.size(2) == 4 && shard.intrinsics.dim() == 3 &&
              shard.intrinsics.size(1) == 3 && shard.intrinsics.size(2) == 3 &&
              shard.extrinsics.size(0) == shard.intrinsics.size(0) && shard.depth.dim() == 3,
          "scene file '" + path.string() + "': 'extrinsic' must be (S, 3, 4) and 'intrinsic' " +
              "(S, 3, 3), got " + c10::str(shard.extrinsics.sizes()) + " and " +
              c10::str(shard.intrinsics.sizes()));
  const auto K = shard.intrinsics.to(torch::kDouble).contiguous();
  const auto Rt = shard.extrinsics.to(torch::kDouble).contiguous();
  for (int64_t t = 0; t < K.size(0); ++t) {
    Camera camera;
    camera.height = static_cast<int>(shard.depth.size(1));
    camera.width = static_cast<int>(shard.depth.size(2));
    std::copy_n(K[t].data_ptr<double>(), 9, camera.K.begin());
    std::copy_n(Rt[t].data_ptr<double>(), 12, camera.cam_from_world.begin());
    validate_camera(camera, "scene file '" + path.string() + "' frame " + std::to_string(t));
  }
}

// Their CO3D object masks (key "masks", bool (S, H, W, 1)) as (S, H, W) bool; undefined when the
// file has none (DL3DV).
torch::Tensor read_masks(const TensorMap& tensors, const fs::path& path,
                         const torch::Tensor& depth) {
  const auto it = tensors.find("masks");
  if (it == tensors.end()) return {};
  const auto& masks = it->second;
  require(masks.scalar_type() == torch::kBool, "scene file '" + path.string() +
                                                   "': 'masks' must be bool, got " +
                                                   std::string(c10::toString(masks.scalar_type())));
  require(masks.dim() == 4 && masks.size(-1) == 1 && masks.sizes().slice(0, 3) == depth.sizes(),
          "scene file '" + path.string() + "': 'masks' must be (S, H, W, 1) with the depth's " +
              c10::str(depth.sizes()) + ", got " + c10::str(masks.sizes()));
  return masks.select(-1, 0);
}

// Their scene file as a shard's ground truth (features added by the caller). Every pixel is valid
// unless use_mask (their hard masking) makes the object mask the valid mask.
FeatureShard read_scene(const fs::path& path, bool use_mask) {
  const auto tensors = load_safetensors(path);
  FeatureShard shard;
  shard.images = required(tensors, "images", path, 4).to(torch::kUInt8);
  shard.depth = required(tensors, "depthmaps", path, 4).select(-1, 0).to(torch::kFloat32);
  shard.confidence = required(tensors, "confmaps", path, 4).select(-1, 0).to(torch::kFloat32);
  shard.intrinsics = required(tensors, "intrinsic", path, 3).to(torch::kFloat32);
  shard.extrinsics = required(tensors, "extrinsic", path, 3).to(torch::kFloat32);
  const auto masks = read_masks(tensors, path, shard.depth);
  require(!use_mask || masks.defined(),
          "scene file '" + path.string() + "' has no tensor 'masks' (--use-mask needs CO3D's)");
  shard.valid = use_mask ? masks.clone() : torch::ones_like(shard.depth, torch::kBool);
  validate_scene_values(shard, path);
  return shard;
}

fs::path split_file(const Vidfm3dImportOptions& o) {
  const auto split = o.split == "test" ? "val" : o.split;
  require(split == "train" || split == "val",
          "--split must be train, val or test; got '" + o.split + "'");
  return o.data_root / (split + ".json");
}

std::vector<std::pair<std::string, std::string>> read_split(const Vidfm3dImportOptions& o) {
  const auto path = split_file(o);
  require(fs::exists(path), "split file '" + path.string() + "' does not exist");
  const auto where = "split file '" + path.string() + "'";
  const auto list = read_json_file(path);
  require(list.is_array(), where + " must list [subset, hash] pairs");
  std::vector<std::pair<std::string, std::string>> scenes;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto entry_where = where + " entry [" + std::to_string(i) + "]";
    // Each part becomes a file name: a path ('/', '..') would read outside the data root.
    const auto part = [&](std::size_t k) {
      const auto name = json_as<std::string>(list[i][k], entry_where);
      require(!name.empty() && name != "." && name != ".." &&
                  name.find_first_of("/\\") == std::string::npos,
              entry_where + ": '" + name + "' is not a plain subset or scene name");
      return name;
    };
    require(list[i].is_array() && list[i].size() == 2,
            entry_where + " must be a [subset, hash] pair, got " + list[i].dump());
    scenes.emplace_back(part(0), part(1));
  }
  require(!scenes.empty(), where + " lists no scenes");
  return scenes;
}

// "vidfm3d:<model>"; their "wan" files hold WAN2.1-1.3B features unless the postfix names the
// 14B model (their extraction writes feature_t2v_14b_t749_layer20.sft for it).
std::string backbone_name(const Vidfm3dImportOptions& o) {
  if (o.model != "wan") return "vidfm3d:" + o.model;
  return o.postfix.find("14b") != std::string::npos ? "vidfm3d:wan-14b" : "vidfm3d:wan-1.3b";
}

nlohmann::json import_identity(const Vidfm3dImportOptions& o) {
  return {{"source", "vidfm3d"},
          {"backbone", backbone_name(o)},
          {"model", o.model},
          {"postfix", o.postfix},
          {"context", o.context},
          {"use_mask", o.use_mask},
          {"dataset_kind", o.dataset_kind},
          {"dataset_root", fs::absolute(o.data_root).lexically_normal().string()},
          {"features_root", fs::absolute(o.features_root).lexically_normal().string()},
          {"split", o.split == "test" ? "val" : o.split}};
}

}  // namespace

const std::vector<std::string>& vidfm3d_models() {
  static const std::vector<std::string> models{"wan",   "opensora",  "dino",  "f3r",
                                               "vjepa", "cogvideox", "aether"};
  return models;
}

std::vector<int64_t> vidfm3d_feature_index(const std::string& model, int64_t frames, int64_t maps,
                                           int64_t context) {
  require(
      std::find(vidfm3d_models().begin(), vidfm3d_models().end(), model) != vidfm3d_models().end(),
      "unknown vidfm3d model '" + model +
          "'; their names are wan, opensora, dino, f3r, vjepa, cogvideox, aether");
  require(frames >= 1 && maps >= 1 && context >= 2, "vidfm3d_feature_index: empty layout");
  std::vector<int64_t> index(static_cast<std::size_t>(frames));
  for (int64_t f = 0; f < frames; ++f)
    index[static_cast<std::size_t>(f)] = frame_map(model, f, maps, context);
  return index;
}

Vidfm3dImportSummary import_vidfm3d(const Vidfm3dImportOptions& o) {
  vidfm3d_feature_index(o.model, 1, 1, std::max<int64_t>(2, o.context));  // validates the name
  require(o.dataset_kind.empty() || o.dataset_kind == "co3d" || o.dataset_kind == "dl3dv",
          "--dataset must be co3d or dl3dv; got '" + o.dataset_kind + "'");
  require(!o.out_dir.empty(), "--out is required");
  const auto scenes = read_split(o);
  std::optional<CacheWriter> writer;
  struct Pending {
    std::string id, sequence;
    fs::path scene_path, feature_path;
    torch::Tensor features;
  };
  // Sequential: the writer is made from the first feature file's width and used by both steps.
  auto prepare = [&](std::size_t i) -> std::optional<Pending> {
    const auto& [subset, hash] = scenes[i];
    const auto id = subset + "__" + hash;
    const auto scene_path = o.data_root / subset / (hash + ".sft");
    require(fs::exists(scene_path), "split file '" + split_file(o).string() + "' lists [" + subset +
                                        ", " + hash + "] but '" + scene_path.string() +
                                        "' does not exist");
    const auto feature_path =
        o.features_root / o.model / subset / hash / ("feature" + o.postfix + ".sft");
    require(fs::exists(feature_path),
            "feature file '" + feature_path.string() + "' does not exist");
    auto features = read_features(feature_path, o.model);
    if (!writer) {
      writer.emplace(o.out_dir, import_identity(o), features.size(1));
      writer->expect(scenes.size());
    }
    if (writer->reuse(id)) return std::nullopt;
    return Pending{id, subset + "/" + hash, scene_path, feature_path, std::move(features)};
  };
  auto write = [&](Pending pending) {
    auto shard = read_scene(pending.scene_path, o.use_mask);
    shard.clip_id = pending.id;
    try {
      // Their per-frame models store one map per frame of the scene.
      require(
          (o.model != "dino" && o.model != "f3r") || pending.features.size(0) == shard.num_frames(),
          "'feat' holds " + std::to_string(pending.features.size(0)) + " maps for the " +
              std::to_string(shard.num_frames()) + " frames of the scene (one a frame)");
      shard.feature_index = torch::tensor(
          vidfm3d_feature_index(o.model, shard.num_frames(), pending.features.size(0), o.context),
          torch::kLong);
      shard.features = std::move(pending.features);
      validate_shard(shard, "clip '" + pending.id + "'");
    } catch (const Error& e) {
      throw Error("scene file '" + pending.scene_path.string() + "' with feature file '" +
                  pending.feature_path.string() + "': " + e.what());
    }
    shard.meta = {{"backbone", backbone_name(o)}, {"sequence", pending.sequence}};
    writer->write(std::move(shard));
  };
  const auto counts = run_resumable(
      scenes.size(), {.label = "import " + o.model, .unit = "clips", .show_progress = o.progress},
      prepare, write);
  if (writer) writer->flush();
  Vidfm3dImportSummary summary;
  summary.clips_written = static_cast<std::int64_t>(counts.processed);
  summary.clips_skipped = static_cast<std::int64_t>(counts.skipped);
  return summary;
}

}  // namespace vidprobe::features
