#pragma once
// The one dataset interface of vidprobe: our synthetic clips, CO3Dv2 and DL3DV behind the same
// calls. A dataset lists the sequences of its split, loads frames as vidprobe::Frame (RGB, depth,
// valid mask, camera in OUR convention, data/frame.h), samples clips, and optionally resizes /
// centre-crops every frame to a backbone's input size with the intrinsics updated exactly.
//
// Usage:
//   DatasetOptions options;
//   options.split = Split::kTrain;
//   options.resize = ResizeSpec{224, 224};
//   auto dataset = open_dataset("co3d", "/data/co3d", options);
//   for (const auto& sequence : dataset->sequences())
//     Clip clip = dataset->sample_clip(sequence, {ClipSamplingMode::kRandom, 4, 1, 0, seed});
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vidprobe/data/clip_sampling.h"
#include "vidprobe/data/frame.h"
#include "vidprobe/data/resize.h"
#include "vidprobe/data/split.h"
#include "vidprobe/data/vidfm3d_processing.h"

namespace vidprobe {

struct DatasetOptions {
  // Which sequences (kVal only with CO3D set lists).
  Split split = Split::kAll;
  // Hash split (synthetic, DL3DV, and CO3D without a set list): fraction of sequences in train.
  double train_ratio = 0.9;
  std::uint64_t split_seed = 0;
  // Keep only the first N sequence ids (sorted) before splitting; 0 keeps all. The paper's
  // protocol takes the first 6K DL3DV scenes.
  std::size_t max_sequences = 0;
  // Applied to every loaded frame: scale to cover, then centre-crop.
  std::optional<ResizeSpec> resize;

  // CO3D: categories to index (empty: every folder of the root holding frame_annotations.jgz).
  std::vector<std::string> categories;
  // CO3D: a set list name such as "fewview_dev" (reads <category>/set_lists/set_lists_<name>.json)
  // to split by the dataset's own lists; empty uses the hash split over "<category>/<sequence>".
  std::string co3d_set_list;
  // CO3D: also mark background (foreground mask probability < 0.5) invalid.
  bool co3d_foreground_only = false;
  // CO3D: the authors' processing (co3d/extract_frames.py, data/vidfm3d_processing.h): each
  // sequence becomes its best window (frames 0 .. num_frames - 1 of the window), cropped to their
  // 16:9 object box, resized to the target size and (by default) sent through their JPEG file;
  // sequences they reject are dropped from sequences(), listed by rejected_sequences() and
  // reported on stderr. Needs every frame's mask (key 'mask.path').
  std::optional<Co3dWindowOptions> co3d_vidfm3d_crop;

  // DL3DV: image folder downscale factor: 1 -> images/, 2 -> images_2/, 4, 8; 0 picks the finest
  // folder present. Intrinsics are scaled to the images actually read.
  int dl3dv_downscale = 0;
  // DL3DV: camera source: "auto" (transforms.json, else COLMAP sparse/0), "transforms", "colmap".
  std::string dl3dv_cameras = "auto";
  // DL3DV: undo nerfstudio's applied_transform so transforms.json and COLMAP share one world frame.
  bool dl3dv_undo_applied_transform = true;
  // DL3DV: optional per-scene folder with (pseudo-GT) depth, see docs/datasets.md; empty: frames
  // get zero depth and an all-zero valid mask.
  std::string depth_dir;
};

// A sequence the reader's processing dropped (CO3D's vidfm3d crop: extract_frames.py's verdict).
struct RejectedSequence {
  std::string sequence;  // its id, e.g. "<category>/<sequence_name>"
  std::string reason;    // as their script prints it: "rejected - trunc=0.3127  upx=1.10"
  // The best window's truncation and up-sampling factor when a window was judged (upsample is
  // +inf when no window had a mask on every frame); nullopt when the input itself was at fault
  // (a missing mask, a frame size mismatch).
  std::optional<double> truncation, upsample;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;

  virtual std::string kind() const = 0;
  const std::filesystem::path& root() const { return root_; }
  const DatasetOptions& options() const { return options_; }

  // Sequence ids of the chosen split, sorted.
  const std::vector<std::string>& sequences() const { return sequences_; }
  // The split's sequences the reader's processing dropped, in the order of their ids there
  // (none for most readers).
  virtual std::vector<RejectedSequence> rejected_sequences() const { return {}; }
  // Throws vidprobe::Error naming the id when it is not in sequences().
  virtual int num_frames(const std::string& sequence) const = 0;

  // Frames at native resolution (no resize), in the order of indices.
  virtual std::vector<Frame> load_frames(const std::string& sequence,
                                         std::span<const int> indices) const = 0;

  // Loads the frames, checks every camera (validate_camera) and that they share one size
  // (vidprobe::Error naming the frame otherwise), applies options().resize and records
  // provenance in Clip::meta.
  Clip load_clip(const std::string& sequence, const std::vector<int>& indices) const;
  // sample_frame_indices with the seed mixed with the sequence id (so sequences differ), then
  // load_clip.
  Clip sample_clip(const std::string& sequence, const ClipSampling& sampling) const;

 protected:
  Dataset(std::filesystem::path root, DatasetOptions options);
  void set_sequences(std::vector<std::string> sequences);
  void require_sequence(const std::string& sequence) const;
  // Extra provenance a reader wants in Clip::meta (e.g. DL3DV distortion that was ignored).
  virtual nlohmann::json sequence_meta(const std::string& /*sequence*/) const { return {}; }

 private:
  std::filesystem::path root_;
  DatasetOptions options_;
  std::vector<std::string> sequences_;
};

// kind: "synthetic" | "co3d" | "dl3dv". Throws vidprobe::Error naming the kind or the file at
// fault (missing annotations, malformed JSON, unknown camera model, ...).
std::unique_ptr<Dataset> open_dataset(std::string_view kind, const std::filesystem::path& root,
                                      const DatasetOptions& options = {});

// A file-name-safe clip id: the sequence id with '/' replaced by "--", then '@' and the frame
// indices joined by '-' (e.g. "apple--110_13051_23361@3-17-40-88"), runs of three or more
// consecutive frames as "first..last" ("scene@0..80").
std::string clip_id(const std::string& sequence, std::span<const int> indices);

}  // namespace vidprobe
