#include "vidprobe/features/feature_cache.h"

#include <torch/torch.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/build_info_torch.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/core/output_directory.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::features {
namespace fs = std::filesystem;
namespace {

const char* const kShardTensors[] = {"features", "images",     "depth",
                                     "valid",    "extrinsics", "intrinsics"};

// The stored dtypes write_shard produces, per tensor (features: the cache's --dtype); anything else
// in a shard (another tensor, integer data where floats belong) is refused naming the tensor.
const std::map<std::string, std::vector<SafeDType>>& shard_dtypes() {
  static const std::map<std::string, std::vector<SafeDType>> dtypes{
      {"features", {SafeDType::kF16, SafeDType::kF32, SafeDType::kBF16}},
      {"images", {SafeDType::kU8}},
      {"depth", {SafeDType::kF32}},
      {"valid", {SafeDType::kU8}},
      {"extrinsics", {SafeDType::kF32}},
      {"intrinsics", {SafeDType::kF32}},
      {"feature_index", {SafeDType::kI64}},
      {"confidence", {SafeDType::kF32}}};
  return dtypes;
}

void check_shard_tensors(const SafetensorsFile& file, const std::string& where) {
  for (const char* name : kShardTensors)
    require(file.contains(name), where + " lacks tensor '" + name + "'");
  for (const auto& name : file.names()) {
    const auto it = shard_dtypes().find(name);
    require(it != shard_dtypes().end(), where + " holds an unknown tensor '" + name + "'");
    const auto dtype = file.view(name).dtype;
    require(std::find(it->second.begin(), it->second.end(), dtype) != it->second.end(),
            where + ": tensor '" + name + "' is stored as " + dtype_name(dtype) +
                ", which a feature shard never holds");
  }
}

std::string shape_of(const torch::Tensor& t) {
  return t.defined() ? c10::str(t.sizes()) : std::string("nothing");
}

// Tensors indexed by frame: T leading entries and `dims` dimensions.
void require_frames(const torch::Tensor& t, const char* name, int64_t dims, int64_t frames,
                    const std::string& where) {
  require(t.defined() && t.dim() == dims && t.size(0) == frames,
          where + ": '" + name + "' must have " + std::to_string(dims) + " dims and " +
              std::to_string(frames) + " frames, got " + shape_of(t));
}

void validate_feature_index(const FeatureShard& shard, const std::string& where) {
  const auto& index = shard.feature_index;
  require(index.scalar_type() == torch::kInt64,
          where + ": 'feature_index' must be int64, got " +
              std::string(c10::toString(index.scalar_type())));
  require_frames(index, "feature_index", 1, shard.num_frames(), where);
  const auto maps = shard.features.size(0);
  require(index.numel() == 0 ||
              (index.min().item<int64_t>() >= -1 && index.max().item<int64_t>() < maps),
          where + ": 'feature_index' must lie in -1.." + std::to_string(maps - 1) +
              " (the feature maps; -1 = none)");
}

}  // namespace

torch::Tensor FeatureShard::frame_to_feature() const {
  return feature_index.defined() ? feature_index : torch::arange(features.size(0), torch::kInt64);
}

torch::Tensor FeatureShard::gt_confidence() const {
  return confidence.defined() ? confidence.to(torch::kFloat32) : valid.to(torch::kFloat32);
}

void validate_shard(const FeatureShard& shard, const std::string& where) {
  require(shard.features.defined() && shard.features.dim() == 4,
          where + ": 'features' must be (L, C, h, w), got " + shape_of(shard.features));
  require(shard.depth.defined() && shard.depth.dim() == 3 && shard.depth.size(0) >= 1,
          where + ": 'depth' must be (T, H, W), got " + shape_of(shard.depth));
  const auto T = shard.num_frames();
  if (shard.feature_index.defined())
    validate_feature_index(shard, where);
  else
    require(shard.features.size(0) == T,
            where + ": 'features' holds " + std::to_string(shard.features.size(0)) +
                " maps but 'depth' has " + std::to_string(T) +
                " frames, and no 'feature_index' says which map serves which frame");
  require_frames(shard.valid, "valid", 3, T, where);
  require_frames(shard.extrinsics, "extrinsics", 3, T, where);
  require_frames(shard.intrinsics, "intrinsics", 3, T, where);
  require(shard.extrinsics.size(1) == 3 && shard.extrinsics.size(2) == 4,
          where + ": 'extrinsics' must be (T, 3, 4)");
  require(shard.intrinsics.size(1) == 3 && shard.intrinsics.size(2) == 3,
          where + ": 'intrinsics' must be (T, 3, 3)");
  require(shard.depth.sizes() == shard.valid.sizes(),
          where + ": 'depth' and 'valid' differ in shape");
  if (shard.confidence.defined())
    require(shard.confidence.sizes() == shard.depth.sizes(),
            where + ": 'confidence' must have the shape of 'depth' " + shape_of(shard.depth) +
                ", got " + shape_of(shard.confidence));
  if (shard.images.defined()) {
    require_frames(shard.images, "images", 4, T, where);
    require(
        shard.images.size(2) == shard.depth.size(1) && shard.images.size(3) == shard.depth.size(2),
        where + ": 'images' and 'depth' differ in resolution");
  }
}

FeatureShard select_frames(const FeatureShard& shard, const std::vector<int64_t>& frames) {
  const auto T = shard.num_frames();
  const auto map = shard.frame_to_feature();
  std::vector<int64_t> maps;
  for (auto f : frames) {
    require(f >= 0 && f < T, "clip '" + shard.clip_id + "': frame " + std::to_string(f) +
                                 " is outside its " + std::to_string(T) + " frames");
    maps.push_back(map[f].item<int64_t>());
    require(maps.back() >= 0, "clip '" + shard.clip_id + "': frame " + std::to_string(f) +
                                  " has no features (outside the backbone's clips)");
  }
  const auto frame_index = torch::tensor(frames, torch::kInt64);
  auto pick = [&](const torch::Tensor& t) {
    return t.defined() ? t.index_select(0, frame_index) : t;
  };
  FeatureShard out;
  out.clip_id = shard.clip_id;
  out.features = shard.features.index_select(0, torch::tensor(maps, torch::kInt64));
  out.images = pick(shard.images);
  out.depth = pick(shard.depth);
  out.valid = pick(shard.valid);
  out.confidence = pick(shard.confidence);
  out.extrinsics = pick(shard.extrinsics);
  out.intrinsics = pick(shard.intrinsics);
  out.meta = shard.meta;
  return out;
}

void write_shard(const fs::path& cache_dir, const FeatureShard& shard) {
  require(!shard.clip_id.empty() && shard.clip_id.find('/') == std::string::npos,
          "invalid clip id '" + shard.clip_id + "'");
  const std::string where = "shard '" + shard.clip_id + "'";
  validate_shard(shard, where);
  require(shard.images.defined(), where + ": 'images' is missing");
  TensorMap tensors{{"features", shard.features},
                    {"images", shard.images.to(torch::kUInt8)},
                    {"depth", shard.depth.to(torch::kFloat32)},
                    {"valid", shard.valid.to(torch::kUInt8)},
                    {"extrinsics", shard.extrinsics.to(torch::kFloat32)},
                    {"intrinsics", shard.intrinsics.to(torch::kFloat32)}};
  if (shard.feature_index.defined()) tensors.emplace("feature_index", shard.feature_index);
  if (shard.confidence.defined())
    tensors.emplace("confidence", shard.confidence.to(torch::kFloat32));
  std::map<std::string, std::string> metadata{{"clip_id", shard.clip_id}};
  if (shard.meta.is_object())
    for (const auto& [key, value] : shard.meta.items())
      metadata[key] = value.is_string() ? value.get<std::string>() : value.dump();
  save_safetensors(cache_dir / "clips" / (shard.clip_id + ".safetensors"), tensors, metadata);
}

FeatureShard read_shard(const fs::path& shard_path) {
  const auto file = SafetensorsFile::open(shard_path);
  const std::string where = "feature shard '" + shard_path.string() + "'";
  check_shard_tensors(file, where);
  FeatureShard shard;
  shard.features = to_tensor(file.view("features"));
  shard.images = to_tensor(file.view("images"));
  shard.depth = to_tensor(file.view("depth"));
  shard.valid = to_tensor(file.view("valid")).to(torch::kBool);
  shard.extrinsics = to_tensor(file.view("extrinsics"));
  shard.intrinsics = to_tensor(file.view("intrinsics"));
  if (file.contains("feature_index")) shard.feature_index = to_tensor(file.view("feature_index"));
  if (file.contains("confidence")) shard.confidence = to_tensor(file.view("confidence"));
  shard.meta = nlohmann::json::object();
  for (const auto& [key, value] : file.metadata()) shard.meta[key] = value;
  shard.clip_id =
      file.metadata().count("clip_id") ? file.metadata().at("clip_id") : shard_path.stem().string();
  validate_shard(shard, where);
  return shard;
}

CacheWriter::CacheWriter(fs::path dir, nlohmann::json identity, int64_t feature_dim, Role role)
    : dir_(std::move(dir)), identity_(identity.dump()), role_(role) {
  // Shards of a killed run are left as temporaries in clips/, the manifest's beside it. Only the
  // owner cleans them: another process's live temporaries are not stale.
  if (role_ == Role::kManifestOwner) {
    prepare_output_directory(dir_, "feature cache");
    prepare_output_directory(dir_ / "clips", "feature cache");
  }
  const auto manifest_path = dir_ / "manifest.json";
  if (fs::exists(manifest_path)) {
    nlohmann::json previous;
    try {
      previous = read_json_file(manifest_path);
    } catch (const nlohmann::json::exception& e) {
      throw Error("cannot resume: '" + manifest_path.string() + "' is malformed: " + e.what());
    }
    require(previous.value("identity", nlohmann::json()) == identity,
            "'" + dir_.string() + "' holds features made with other settings (" +
                previous.value("identity", nlohmann::json()).dump() + "); use another --out");
  }
  manifest_ = {{"format", "vidprobe-feature-cache"},
               {"version", 1},
               {"identity", std::move(identity)},
               {"feature_dim", feature_dim},
               {"build", build_info()},
               {"clips", nlohmann::json::array()}};
}

bool CacheWriter::holds(const std::string& clip_id) const {
  const auto path = dir_ / "clips" / (clip_id + ".safetensors");
  if (!fs::exists(path)) return false;
  try {
    const auto existing = SafetensorsFile::open(path);  // validates the whole layout
    return existing.metadata().count("identity") && existing.metadata().at("identity") == identity_;
  } catch (const Error&) {
    return false;  // a damaged shard is recomputed, never trusted
  }
}

bool CacheWriter::reuse(const std::string& clip_id) {
  if (!holds(clip_id)) return false;
  record(clip_id);
  return true;
}

CacheWriter::~CacheWriter() {
  if (unwritten_.count == 0) return;
  try {
    write_manifest();
  } catch (const std::exception& e) {
    std::cerr << "warning: feature cache " << dir_.string()
              << ": the manifest could not be rewritten (" << e.what()
              << "); the next run over it finds the shards on disk\n";
  }
}

void CacheWriter::write(FeatureShard shard) {
  const auto clip_id = shard.clip_id;
  store(std::move(shard));
  record(clip_id);
}

void CacheWriter::store(FeatureShard shard) const {
  if (!shard.meta.is_object()) shard.meta = nlohmann::json::object();
  shard.meta["identity"] = identity_;
  write_shard(dir_, shard);
}

void CacheWriter::record(const std::string& clip_id) {
  done_.push_back(clip_id);
  ++unwritten_.count;
  if (!manifest_written_ ||
      std::chrono::steady_clock::now() - *manifest_written_ >= kManifestInterval)
    write_manifest();
}

void CacheWriter::flush() {
  if (unwritten_.count > 0) write_manifest();
}

void CacheWriter::expect(std::size_t clips) {
  expected_ = clips;
  write_manifest();
}

void CacheWriter::record_all(const std::vector<std::string>& clip_ids) {
  require(role_ == Role::kManifestOwner, "feature cache: only rank 0 records the manifest");
  for (const auto& id : clip_ids)
    require(holds(id), "feature cache " + dir_.string() + ": clip '" + id +
                           "' was reported done by a process but its shard is missing or damaged");
  done_ = clip_ids;
  write_manifest();
}

void CacheWriter::write_manifest() {
  if (role_ == Role::kManifestOwner) {
    auto manifest = manifest_;
    manifest["clips"] = done_;
    if (expected_) manifest["expected_clips"] = *expected_;
    write_file_atomically(dir_ / "manifest.json", manifest.dump(2) + "\n");
  }
  unwritten_.count = 0;
  manifest_written_ = std::chrono::steady_clock::now();
}

FeatureCache FeatureCache::open(const fs::path& dir) {
  const auto manifest_path = dir / "manifest.json";
  if (!fs::exists(manifest_path))
    throw Error("not a feature cache: " + manifest_path.string() +
                " is missing (run vidprobe extract)");
  FeatureCache cache;
  cache.dir_ = dir;
  try {
    cache.manifest_ = read_json_file(manifest_path);
    cache.parsed_ = parse_cache_manifest(cache.manifest_, manifest_path);
  } catch (const nlohmann::json::exception& e) {
    throw Error("feature cache manifest '" + manifest_path.string() +
                "' is malformed: " + e.what());
  }
  for (const auto& id : cache.parsed_.clips)
    require(fs::exists(cache.shard_path(id)), "feature cache manifest '" + manifest_path.string() +
                                                  "' lists clip '" + id + "' but " +
                                                  cache.shard_path(id).string() + " is missing");
  return cache;
}

fs::path FeatureCache::shard_path(const std::string& clip_id) const {
  return dir_ / "clips" / (clip_id + ".safetensors");
}

FeatureShard FeatureCache::load(const std::string& clip_id) const {
  auto shard = read_shard(shard_path(clip_id));
  // The manifest's channel count is what a probe is built for: a shard that disagrees (a
  // hand-edited manifest, shards from another extraction) would be read with the wrong width.
  if (parsed_.feature_dim && shard.features.defined() && shard.features.dim() >= 2)
    require(shard.features.size(1) == *parsed_.feature_dim,
            "feature cache '" + dir_.string() + "': manifest key 'feature_dim' is " +
                std::to_string(*parsed_.feature_dim) + " but clip '" + clip_id + "' has " +
                std::to_string(shard.features.size(1)) + " feature channels");
  return shard;
}

std::size_t FeatureCache::missing_clips() const {
  return parsed_.expected_clips - parsed_.clips.size();  // parse_cache_manifest: expected >= listed
}

void require_complete(const FeatureCache& cache, bool allow_partial) {
  const auto missing = cache.missing_clips();
  if (missing == 0) return;
  const std::string what = "feature cache " + cache.dir().string() +
                           " is partial: " + std::to_string(missing) + " of " +
                           std::to_string(missing + cache.clip_ids().size()) +
                           " clips are missing (its extraction did not finish)";
  require(allow_partial, what +
                             "; run the extraction again to complete it, or pass "
                             "--allow-partial to use the clips it has");
  std::cerr << "warning: " << what << "; --allow-partial: using the " << cache.clip_ids().size()
            << " clips it has\n";
}

}  // namespace vidprobe::features
