#pragma once
// `vidprobe extract` as a library call: run a frozen backbone over every clip of a dataset and
// write a feature cache (see feature_cache.h). Resumable: finished shards are skipped.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"

namespace vidprobe::features {

struct ExtractOptions {
  std::string backbone = "pixels";
  std::string weights;
  backbones::ExtractionPoint point;
  std::string dataset_kind = "synthetic";  // synthetic | co3d | dl3dv
  std::filesystem::path dataset_root;
  std::string split = "all";               // all | train | test
  double train_ratio = 0.9;                // hash split of sequences (the paper: 9:1 on DL3DV)
  int frames = 4;                          // frames per clip (the paper samples 4)
  std::string sampling = "uniform";        // uniform | random | strided
  int gt_size = 0;                         // GT resolution (square); 0 = backbone input size
  std::string temporal = "video";          // video | per-frame | shuffled (the paper's ablations)
  std::string dtype = "fp16";              // cache dtype: fp16 | fp32
  std::string device = "cpu";
  std::uint64_t seed = 0;
  std::filesystem::path out_dir;
};

struct ExtractSummary {
  std::int64_t clips_written = 0, clips_skipped = 0;
  double seconds = 0;
};

ExtractSummary extract_features(const ExtractOptions& options);

}  // namespace vidprobe::features
