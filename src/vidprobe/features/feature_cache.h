#pragma once
// On-disk cache of frozen backbone features, one safetensors shard per clip, with the clip's
// ground truth stored beside the features so that training never re-reads the dataset.
//
// Layout of a cache directory:
//   manifest.json            backbone, extraction point, dtype, shapes, clip list (rewritten
//                            atomically after every finished clip, so a killed run resumes)
//   clips/<clip_id>.safetensors
// Tensors of a shard (T = frames of the clip):
//   features    (T, C, h, w)   fp16 (default) or fp32: per-frame feature maps
//   images      (T, 3, H, W)   uint8 RGB at the GT resolution (for pictures in reports)
//   depth       (T, H, W)      fp32 z-depth, 0 where invalid
//   valid       (T, H, W)      uint8 1/0
//   extrinsics  (T, 3, 4)      fp32 camera-from-world (vidprobe convention)
//   intrinsics  (T, 3, 3)      fp32 at the GT resolution
// The shard's __metadata__ holds clip_id, backbone, layer, timestep and the source dataset.
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vidprobe::features {

struct FeatureShard {
  std::string clip_id;
  torch::Tensor features, images, depth, valid, extrinsics, intrinsics;
  nlohmann::json meta;  // string-valued metadata
};

// Atomic: writes <dir>/clips/<clip_id>.safetensors via a temporary name.
void write_shard(const std::filesystem::path& cache_dir, const FeatureShard& shard);
FeatureShard read_shard(const std::filesystem::path& shard_path);

class FeatureCache {
 public:
  // Opens an existing cache; throws vidprobe::Error if manifest.json is missing or malformed.
  static FeatureCache open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const nlohmann::json& manifest() const { return manifest_; }
  const std::vector<std::string>& clip_ids() const { return clip_ids_; }
  FeatureShard load(const std::string& clip_id) const;
  std::filesystem::path shard_path(const std::string& clip_id) const;

 private:
  std::filesystem::path dir_;
  nlohmann::json manifest_;
  std::vector<std::string> clip_ids_;
};

}  // namespace vidprobe::features
