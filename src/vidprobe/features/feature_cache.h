#pragma once
// On-disk cache of frozen backbone features, one safetensors shard per clip, with the clip's
// ground truth stored beside the features so that training never re-reads the dataset.
//
// Layout of a cache directory:
//   manifest.json            backbone, extraction point, dtype, shapes, clip list (rewritten
//                            atomically at most every few seconds while clips finish, and when
//                            the writer is flushed or destroyed; a killed run resumes from the
//                            shards themselves, so the list may lag behind them)
//   clips/<clip_id>.safetensors
// Tensors of a shard (T = frames of the clip, L = feature maps):
//   features       (L, C, h, w)  fp16 (default) or fp32: the backbone's maps, each stored once
//   feature_index  (T)           int64, optional: frame t reads features[feature_index[t]] (a
//                                causal-VAE latent serves 4 frames, a video tubelet 2; -1 = no
//                                features for that frame); absent = one map per frame (L = T)
//   images         (T, 3, H, W)  uint8 RGB at the GT resolution (for pictures in reports)
//   depth          (T, H, W)     fp32 z-depth, 0 where invalid
//   valid          (T, H, W)     uint8 1/0
//   confidence     (T, H, W)     fp32, optional: per-pixel GT confidence (VGGT's depth_conf for
//                                pseudo-GT); absent = valid (exact GT is fully trusted)
//   extrinsics     (T, 3, 4)     fp32 camera-from-world (vidprobe convention)
//   intrinsics     (T, 3, 3)     fp32 at the GT resolution
// The shard's __metadata__ holds clip_id, backbone, layer, timestep and the source dataset.
#include <torch/types.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vidprobe/features/cache_manifest.h"

namespace vidprobe::features {

struct FeatureShard {
  std::string clip_id;
  torch::Tensor features;       // (L, C, h, w)
  torch::Tensor feature_index;  // (T) int64, or undefined: one map per frame
  torch::Tensor images, depth, valid, extrinsics, intrinsics;
  torch::Tensor confidence;  // (T, H, W) float, or undefined: valid
  nlohmann::json meta;       // string-valued metadata

  int64_t num_frames() const { return depth.size(0); }
  // (T) int64 map from frame to feature map (the identity when feature_index is undefined).
  torch::Tensor frame_to_feature() const;
  // (T, H, W) float32: the confidence, or valid as 1/0.
  torch::Tensor gt_confidence() const;
};

// Throws vidprobe::Error naming `where` and the tensor at fault when the shard is inconsistent
// (images may be absent in memory; the cache always writes them).
void validate_shard(const FeatureShard& shard, const std::string& where);

// The clip restricted to `frames` (indices into its T frames), with one feature map per kept
// frame. Throws vidprobe::Error naming the clip when a frame is out of range or has no features.
FeatureShard select_frames(const FeatureShard& shard, const std::vector<int64_t>& frames);

// Atomic: writes <dir>/clips/<clip_id>.safetensors via a temporary name.
void write_shard(const std::filesystem::path& cache_dir, const FeatureShard& shard);
FeatureShard read_shard(const std::filesystem::path& shard_path);

// Writes a cache resumably: a directory whose manifest holds another identity (what its shards
// were made from: backbone, point, data, sizes) is refused, and shards already written with this
// identity are kept (reuse), whether the manifest lists them or not.
//
// The manifest is rewritten atomically by the first record at least kManifestInterval after its
// last rewrite, by flush(), and by the destructor (so also when a run throws). It may therefore lag
// behind the shards for as long as clips take; a run killed by a signal leaves it so, and the next
// run finds the unlisted shards on disk. Rewriting it after every clip cost O(clips²) over a run:
// at 20k clips each rewrite is about 0.6 MB.
//
// In a job of several processes every process writes its own clips' shards, and only one (rank 0)
// owns the manifest: it prepares the directory first, the others then open it as shard writers
// (the identity is still checked), and at the end the owner records every process's clips in the
// order one process would have (record_all).
class CacheWriter {
 public:
  enum class Role { kManifestOwner, kShardWriter };
  static constexpr std::chrono::seconds kManifestInterval{5};

  CacheWriter(std::filesystem::path dir, nlohmann::json identity, int64_t feature_dim,
              Role role = Role::kManifestOwner);
  // Moving hands the unwritten records over: only the moved-to writer rewrites the manifest.
  CacheWriter(CacheWriter&&) noexcept = default;
  CacheWriter& operator=(CacheWriter&&) = delete;
  // Flushes; a failure to write is reported on stderr (a destructor cannot throw), and the
  // shards on disk still let the next run resume.
  ~CacheWriter();
  // True when the clip's shard exists with this identity (a damaged one does not count); the
  // clip is then recorded as done.
  bool reuse(const std::string& clip_id);
  // True when the clip's shard exists with this identity; records nothing, so that a loader
  // thread can check while the writer's thread records (reuse() is holds() then record()).
  bool holds(const std::string& clip_id) const;
  // Stamps the identity into the shard's metadata, writes it atomically and records the clip.
  void write(FeatureShard shard);
  // write() without the record, so that several shards can be written at once while the clips
  // are still recorded in order: it reads only what the constructor set, so it may run on any
  // thread beside other store() calls and beside record() on one other thread.
  void store(FeatureShard shard) const;
  // Notes a clip whose shard is on disk (stored, or accepted by holds()) for the manifest.
  void record(const std::string& clip_id);
  // How many clips this run is to write (before the loop): recorded in every manifest written
  // from now on, so that a cache of a run that was killed or failed part-way says so.
  void expect(std::size_t clips);
  // The manifest owner's final record of a multi-process run: exactly these clips, in this order
  // (each process's done() gathered). Throws vidprobe::Error naming a clip whose shard is missing.
  void record_all(const std::vector<std::string>& clip_ids);
  // Rewrites the manifest now when it lacks recorded clips (the end of a run).
  void flush();
  // The clips this writer wrote or kept, in order.
  const std::vector<std::string>& done() const { return done_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  // A count that moving resets in the source, so that a moved-from writer writes nothing.
  struct UnwrittenClips {
    std::size_t count = 0;
    UnwrittenClips() = default;
    UnwrittenClips(UnwrittenClips&& other) noexcept : count(std::exchange(other.count, 0)) {}
    UnwrittenClips& operator=(UnwrittenClips&&) = delete;
  };
  void write_manifest();
  std::filesystem::path dir_;
  nlohmann::json manifest_;
  std::string identity_;
  std::vector<std::string> done_;
  std::optional<std::size_t> expected_;
  Role role_;
  UnwrittenClips unwritten_;
  std::optional<std::chrono::steady_clock::time_point>
      manifest_written_;  // never: first record writes
};

class FeatureCache {
 public:
  // Opens an existing cache; throws vidprobe::Error if manifest.json is missing or malformed.
  static FeatureCache open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const nlohmann::json& manifest() const { return manifest_; }
  const std::vector<std::string>& clip_ids() const { return parsed_.clips; }
  FeatureShard load(const std::string& clip_id) const;
  std::filesystem::path shard_path(const std::string& clip_id) const;
  // Clips the writing run expected but did not record; 0 for a complete cache and for caches
  // written before the manifest recorded the expected count.
  std::size_t missing_clips() const;

 private:
  std::filesystem::path dir_;
  nlohmann::json manifest_;
  CacheManifest parsed_;
};

// Throws vidprobe::Error naming the cache and how many clips are missing when the run that wrote
// it did not finish (FeatureCache::missing_clips); with allow_partial, says so on stderr instead.
void require_complete(const FeatureCache& cache, bool allow_partial);

}  // namespace vidprobe::features
