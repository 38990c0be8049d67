#include "vidprobe/data/synthetic_dataset.h"

#include <algorithm>
#include <memory>
#include <mutex>

#include "vidprobe/core/error.h"
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

  int num_frames(const std::string& sequence) const override {
    return static_cast<int>(clip(sequence)->frames.size());
  }

  std::vector<Frame> load_frames(const std::string& sequence,
                                 std::span<const int> indices) const override {
    const auto whole_clip = clip(sequence);
    const Clip& whole = *whole_clip;
    std::vector<Frame> frames;
    frames.reserve(indices.size());
    for (const int index : indices) {
      require(index >= 0 && static_cast<std::size_t>(index) < whole.frames.size(),
              "synthetic clip '" + sequence + "': frame index " + std::to_string(index) +
                  " out of range");
      frames.push_back(whole.frames[static_cast<std::size_t>(index)]);
    }
    return frames;
  }

 protected:
  nlohmann::json sequence_meta(const std::string& sequence) const override {
    return clip(sequence)->meta;
  }

 private:
  // A clip file holds all its frames, so the last clip read is kept: counting frames and then
  // loading a few of them reads the directory once. Shared ownership keeps a clip alive for a
  // caller while another thread replaces the cache.
  std::shared_ptr<const Clip> clip(const std::string& sequence) const {
    require_sequence(sequence);
    std::lock_guard lock(cache_mutex_);
    if (!cached_ || cached_id_ != sequence) {
      cached_ = std::make_shared<Clip>(read_synthetic_clip(root() / sequence));
      cached_id_ = sequence;
    }
    return cached_;
  }

  mutable std::mutex cache_mutex_;
  mutable std::string cached_id_;
  mutable std::shared_ptr<const Clip> cached_;
};

}  // namespace

std::unique_ptr<Dataset> open_synthetic_dataset(const std::filesystem::path& root,
                                                const DatasetOptions& options) {
  return std::make_unique<SyntheticDataset>(root, options);
}

}  // namespace vidprobe
