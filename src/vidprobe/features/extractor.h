#pragma once
// `vidprobe extract` as a library call: run a frozen backbone over every clip of a dataset and
// write a feature cache (see feature_cache.h). Resumable: finished shards are skipped.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"

namespace vidprobe::features {

struct ExtractOptions {
  std::string backbone = "pixels";
  std::string weights;
  bool random_init = false;  // the real architecture with seeded random weights (never results)
  backbones::ExtractionPoint point;
  std::string dataset_kind = "synthetic";  // synthetic | co3d | dl3dv
  std::filesystem::path dataset_root;
  std::string split = "all";  // all | train | test
  double train_ratio = 0.9;   // hash split of sequences (the paper: 9:1 on DL3DV)
  int frames = 4;             // frames per clip fed to the backbone
  // Frames kept for the probe, at round(linspace(0, frames - 1, probe_frames)), after the backbone
  // has seen the whole clip: e.g. WAN reads 17 frames (4k + 1) and the probe gets 4 as in the
  // paper. 0 = all frames.
  int probe_frames = 0;
  std::string sampling = "uniform";  // uniform | random | strided
  // GT height in pixels; the width follows the backbone input's aspect ratio (so that features and
  // GT cover the same field of view after a crop) unless gt_width is given. 0 = the input size.
  int gt_size = 0;
  int gt_width = 0;
  std::string resize = "crop";  // crop | squash (clip_tensors.h)
  // Diffusion backbones: the noise seed mixed with the clip's id, so every clip gets its own
  // noise and sharded runs agree (the authors draw fresh noise per clip); off: one seed for all.
  bool noise_per_clip = false;
  std::string temporal = "video";      // video | per-frame | shuffled (the paper's ablations)
  std::string dtype = "fp16";          // cache dtype: fp16 | fp32
  std::string compute_dtype = "auto";  // backbone weights: auto (bf16 on CUDA) | fp32 | bf16 | fp16
  std::map<std::string, std::string> backbone_options;  // family-specific (--backbone-opt k=v)
  std::string device = "cpu";
  std::uint64_t seed = 0;
  std::filesystem::path out_dir;
};

struct ExtractSummary {
  std::int64_t clips_written = 0, clips_skipped = 0;
  double seconds = 0;
};

// One cache at options.point in options.out_dir.
ExtractSummary extract_features(const ExtractOptions& options);

// Several caches in one pass over the data: each clip is loaded and fed to the backbone once for
// all points (WAN encodes it with its VAE once), then one shard per target is written. Points with
// layer -1 / no timestep take the backbone's default. One summary per target, in order.
struct ExtractTarget {
  backbones::ExtractionPoint point;
  std::filesystem::path out_dir;
};
std::vector<ExtractSummary> extract_features_at(const ExtractOptions& options,
                                                const std::vector<ExtractTarget>& targets);

// round(linspace(0, frames - 1, kept)): the frames a probe sees of a longer clip.
std::vector<int64_t> probe_frame_indices(int64_t frames, int64_t kept);

}  // namespace vidprobe::features
