#include "vidprobe/data/dataset.h"

#include <algorithm>
#include <utility>

#include "vidprobe/core/error.h"
#include "vidprobe/data/camera_validation.h"
#include "vidprobe/data/co3d.h"
#include "vidprobe/data/dl3dv.h"
#include "vidprobe/data/synthetic_dataset.h"

namespace vidprobe {

Dataset::Dataset(std::filesystem::path root, DatasetOptions options)
    : root_(std::move(root)), options_(std::move(options)) {}

void Dataset::set_sequences(std::vector<std::string> sequences) {
  std::sort(sequences.begin(), sequences.end());
  sequences_ = std::move(sequences);
}

void Dataset::require_sequence(const std::string& sequence) const {
  require(std::binary_search(sequences_.begin(), sequences_.end(), sequence),
          kind() + " dataset " + root_.string() + ": no sequence '" + sequence + "' in split '" +
              to_string(options_.split) + "'");
}

std::string clip_id(const std::string& sequence, std::span<const int> indices) {
  std::string id;
  for (std::size_t i = 0; i < sequence.size(); ++i) {
    if (sequence[i] == '/' || sequence[i] == '\\')
      id += "--";
    else
      id += sequence[i];
  }
  id += '@';
  // Runs of three or more consecutive frames as "first..last", so whole clips keep short names
  // (file names are limited to 255 bytes): 81 frames are "@0..80", not 81 numbers.
  for (std::size_t i = 0; i < indices.size();) {
    std::size_t end = i + 1;
    while (end < indices.size() && indices[end] == indices[end - 1] + 1) ++end;
    if (i > 0) id += '-';
    if (end - i >= 3) {
      id += std::to_string(indices[i]) + ".." + std::to_string(indices[end - 1]);
      i = end;
    } else {
      id += std::to_string(indices[i]);
      ++i;
    }
  }
  return id;
}

Clip Dataset::load_clip(const std::string& sequence, const std::vector<int>& indices) const {
  require_sequence(sequence);
  require(!indices.empty(), "load_clip: no frame indices for sequence '" + sequence + "'");
  const int count = num_frames(sequence);
  for (const int index : indices)
    require(index >= 0 && index < count, "load_clip: frame index " + std::to_string(index) +
                                             " out of range for sequence '" + sequence + "' with " +
                                             std::to_string(count) + " frames");
  Clip clip;
  clip.frames = load_frames(sequence, indices);
  require(clip.frames.size() == indices.size(),
          kind() + " reader returned " + std::to_string(clip.frames.size()) + " frames for " +
              std::to_string(indices.size()) + " indices of '" + sequence + "'");
  const Camera& first = clip.frames.front().camera;
  nlohmann::json sources = nlohmann::json::array();
  for (const Frame& frame : clip.frames) {
    // Every reader's frames pass here, so one check covers synthetic, CO3D and DL3DV (either
    // camera source) alike.
    validate_camera(frame.camera, frame.source + " (" + kind() + " sequence '" + sequence + "')");
    require(frame.camera.width == first.width && frame.camera.height == first.height,
            "frames of unequal size in sequence '" + sequence + "': " + frame.source + " is " +
                std::to_string(frame.camera.width) + "x" + std::to_string(frame.camera.height) +
                " but " + clip.frames.front().source + " is " + std::to_string(first.width) + "x" +
                std::to_string(first.height));
    sources.push_back(frame.source);
  }
  clip.id = clip_id(sequence, indices);
  clip.meta = {{"dataset", kind()},
               {"root", root_.string()},
               {"sequence", sequence},
               {"frame_indices", indices},
               {"sources", std::move(sources)},
               {"native_size", {first.width, first.height}}};
  if (auto extra = sequence_meta(sequence); !extra.is_null())
    clip.meta["reader"] = std::move(extra);
  if (options_.resize) {
    for (Frame& frame : clip.frames) frame = resize_and_center_crop(frame, *options_.resize);
    clip.meta["resize"] = {{"width", options_.resize->width},
                           {"height", options_.resize->height},
                           {"multiple_of", options_.resize->multiple_of},
                           {"mode", "cover_then_center_crop"}};
  }
  return clip;
}

Clip Dataset::sample_clip(const std::string& sequence, const ClipSampling& sampling) const {
  require_sequence(sequence);
  ClipSampling seeded = sampling;
  // Mix in the sequence so one seed gives different (but reproducible) subsets per sequence.
  seeded.seed = SplitMix64(sampling.seed ^ stable_hash(sequence)).next();
  Clip clip = load_clip(sequence, sample_frame_indices(num_frames(sequence), seeded));
  clip.meta["sampling"] = {{"mode", to_string(sampling.mode)},
                           {"num_frames", sampling.num_frames},
                           {"stride", sampling.stride},
                           {"start", sampling.start},
                           {"seed", sampling.seed}};
  return clip;
}

std::unique_ptr<Dataset> open_dataset(std::string_view kind, const std::filesystem::path& root,
                                      const DatasetOptions& options) {
  if (kind == "synthetic") return open_synthetic_dataset(root, options);
  if (kind == "co3d") return open_co3d_dataset(root, options);
  if (kind == "dl3dv") return open_dl3dv_dataset(root, options);
  throw Error("unknown dataset kind '" + std::string(kind) +
              "' (expected synthetic, co3d or dl3dv)");
}

}  // namespace vidprobe
