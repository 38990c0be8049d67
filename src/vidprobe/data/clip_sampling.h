#pragma once
// Which frames of a sequence form a clip. The paper feeds 4 frames per clip to the probe; the
// modes below cover its random subsets plus the deterministic layouts used for evaluation.
// Everything is reproducible across platforms: the random generator is our own (splitmix64),
// not a std:: distribution whose output differs between standard libraries.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vidprobe {

enum class ClipSamplingMode {
  kRandom,   // num_frames distinct indices drawn with the seed, returned sorted
  kStrided,  // start, start + stride, ...; start < 0 draws the start with the seed
  kUniform,  // evenly spread from the first to the last frame
};

// "random" | "strided" | "uniform"; throws vidprobe::Error naming the value otherwise.
ClipSamplingMode parse_clip_sampling_mode(std::string_view name);
std::string to_string(ClipSamplingMode mode);

struct ClipSampling {
  ClipSamplingMode mode = ClipSamplingMode::kRandom;
  int num_frames = 4;
  int stride = 1;  // kStrided only
  int start = 0;   // kStrided only; negative = random start
  std::uint64_t seed = 0;
};

// Sorted, distinct frame indices in [0, sequence_length). Throws vidprobe::Error when the
// sequence is too short for the request (the message names both numbers).
std::vector<int> sample_frame_indices(int sequence_length, const ClipSampling& sampling);

// 64-bit FNV-1a: a stable hash of ids for seeds and train/test splits (std::hash is not stable
// across standard libraries).
std::uint64_t stable_hash(std::string_view text);

// splitmix64 step: a tiny, well-mixed, portable pseudo-random generator.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform in [0, bound) without modulo bias; bound > 0.
  std::uint64_t below(std::uint64_t bound);

 private:
  std::uint64_t state_;
};

}  // namespace vidprobe
