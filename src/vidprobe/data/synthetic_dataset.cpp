#include "vidprobe/data/synthetic_dataset.h"

#include <algorithm>
#include <memory>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/data/split.h"
#include "vidprobe/data/synthetic_format.h"

namespace vidprobe {
namespace {

class SyntheticDataset final : public Dataset {
 public:
  SyntheticDataset(const std::filesystem::path& root, const DatasetOptions& options)
      : Dataset(root, options) {
    require(std::filesystem::is_directory(root),
            "synthetic dataset root is not a directory: " + root.string());
    auto ids = list_synthetic_clips(root);
    std::sort(ids.begin(), ids.end());
    if (options.max_sequences > 0 && ids.size() > options.max_sequences)
      ids.resize(options.max_sequences);
    set_sequences(
        hash_split(std::move(ids), options.split, options.train_ratio, options.split_seed));
  }

  std::string kind() const override { return "synthetic"; }

  // The frame count and the provenance come from clip.json alone, and load_frames reads the clip
  // once: nothing is cached or locked, so loader threads read clips in parallel (a cache of the
  // last clip read, under a lock, made eight loader threads as slow as one).
  int num_frames(const std::string& sequence) const override {
    require_sequence(sequence);
    const auto file = "'" + (root() / sequence / "clip.json").string() + "'";
    const auto document = read_synthetic_clip_json(root() / sequence);
    const auto count = json_get<std::size_t>(document, "num_frames", file);
    const auto frames = document.find("frames");
    require(frames != document.end() && frames->is_array() && frames->size() == count,
            file + ": key 'num_frames' (" + std::to_string(count) +
                ") is not the length of its 'frames' array");
    return static_cast<int>(count);
  }

  std::vector<Frame> load_frames(const std::string& sequence,
                                 std::span<const int> indices) const override {
    require_sequence(sequence);
    // Only the wanted frames' files are read (extraction samples 16 of 17, say).
    return read_synthetic_clip(root() / sequence, indices).frames;
  }

 protected:
  nlohmann::json sequence_meta(const std::string& sequence) const override {
    return read_synthetic_clip_json(root() / sequence).value("meta", nlohmann::json::object());
  }
};

}  // namespace

std::unique_ptr<Dataset> open_synthetic_dataset(const std::filesystem::path& root,
                                                const DatasetOptions& options) {
  return std::make_unique<SyntheticDataset>(root, options);
}

}  // namespace vidprobe
