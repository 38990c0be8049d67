#include "vidprobe/features/feature_cache.h"

#include <torch/torch.h>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::features {
namespace fs = std::filesystem;
namespace {

const char* const kShardTensors[] = {"features", "images", "depth", "valid", "extrinsics", "intrinsics"};

void check_shapes(const FeatureShard& shard, const std::string& where) {
  require(shard.features.defined() && shard.features.dim() == 4,
          where + ": 'features' must be (T, C, h, w)");
  const auto T = shard.features.size(0);
  auto expect = [&](const torch::Tensor& tensor, const char* name, int64_t dims) {
    require(tensor.defined() && tensor.dim() == dims && tensor.size(0) == T,
            where + ": '" + name + "' must have " + std::to_string(dims) + " dims and " +
                std::to_string(T) + " frames, got " + (tensor.defined() ? c10::str(tensor.sizes()) : "nothing"));
  };
  expect(shard.images, "images", 4);
  expect(shard.depth, "depth", 3);
  expect(shard.valid, "valid", 3);
  expect(shard.extrinsics, "extrinsics", 3);
  expect(shard.intrinsics, "intrinsics", 3);
  require(shard.extrinsics.size(1) == 3 && shard.extrinsics.size(2) == 4,
          where + ": 'extrinsics' must be (T, 3, 4)");
  require(shard.intrinsics.size(1) == 3 && shard.intrinsics.size(2) == 3,
          where + ": 'intrinsics' must be (T, 3, 3)");
  require(shard.depth.sizes() == shard.valid.sizes(), where + ": 'depth' and 'valid' differ in shape");
  require(shard.images.size(2) == shard.depth.size(1) && shard.images.size(3) == shard.depth.size(2),
          where + ": 'images' and 'depth' differ in resolution");
}

}  // namespace

void write_shard(const fs::path& cache_dir, const FeatureShard& shard) {
  require(!shard.clip_id.empty() && shard.clip_id.find('/') == std::string::npos,
          "invalid clip id '" + shard.clip_id + "'");
  check_shapes(shard, "shard '" + shard.clip_id + "'");
  TensorMap tensors{{"features", shard.features},
                    {"images", shard.images.to(torch::kUInt8)},
                    {"depth", shard.depth.to(torch::kFloat32)},
                    {"valid", shard.valid.to(torch::kUInt8)},
                    {"extrinsics", shard.extrinsics.to(torch::kFloat32)},
                    {"intrinsics", shard.intrinsics.to(torch::kFloat32)}};
  std::map<std::string, std::string> metadata{{"clip_id", shard.clip_id}};
  if (shard.meta.is_object())
    for (const auto& [key, value] : shard.meta.items())
      metadata[key] = value.is_string() ? value.get<std::string>() : value.dump();
  save_safetensors(cache_dir / "clips" / (shard.clip_id + ".safetensors"), tensors, metadata);
}

FeatureShard read_shard(const fs::path& shard_path) {
  const auto file = SafetensorsFile::open(shard_path);
  const std::string where = "feature shard '" + shard_path.string() + "'";
  for (const char* name : kShardTensors)
    require(file.contains(name), where + " lacks tensor '" + name + "'");
  FeatureShard shard;
  shard.features = to_tensor(file.view("features"));
  shard.images = to_tensor(file.view("images"));
  shard.depth = to_tensor(file.view("depth"));
  shard.valid = to_tensor(file.view("valid")).to(torch::kBool);
  shard.extrinsics = to_tensor(file.view("extrinsics"));
  shard.intrinsics = to_tensor(file.view("intrinsics"));
  shard.meta = nlohmann::json::object();
  for (const auto& [key, value] : file.metadata()) shard.meta[key] = value;
  shard.clip_id = file.metadata().count("clip_id") ? file.metadata().at("clip_id")
                                                   : shard_path.stem().string();
  check_shapes(shard, where);
  return shard;
}

FeatureCache FeatureCache::open(const fs::path& dir) {
  const auto manifest_path = dir / "manifest.json";
  if (!fs::exists(manifest_path))
    throw Error("not a feature cache: " + manifest_path.string() + " is missing (run vidprobe extract)");
  FeatureCache cache;
  cache.dir_ = dir;
  try {
    cache.manifest_ = nlohmann::json::parse(read_file(manifest_path));
    for (const auto& clip : cache.manifest_.at("clips")) cache.clip_ids_.push_back(clip.get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw Error("feature cache manifest '" + manifest_path.string() + "' is malformed: " + e.what());
  }
  for (const auto& id : cache.clip_ids_)
    require(fs::exists(cache.shard_path(id)), "feature cache manifest '" + manifest_path.string() +
                                                  "' lists clip '" + id + "' but " +
                                                  cache.shard_path(id).string() + " is missing");
  return cache;
}

fs::path FeatureCache::shard_path(const std::string& clip_id) const {
  return dir_ / "clips" / (clip_id + ".safetensors");
}

FeatureShard FeatureCache::load(const std::string& clip_id) const { return read_shard(shard_path(clip_id)); }

}  // namespace vidprobe::features
