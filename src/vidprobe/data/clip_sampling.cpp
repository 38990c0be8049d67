#include "vidprobe/data/clip_sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "vidprobe/core/error.h"

namespace vidprobe {

ClipSamplingMode parse_clip_sampling_mode(std::string_view name) {
  if (name == "random") return ClipSamplingMode::kRandom;
  if (name == "strided") return ClipSamplingMode::kStrided;
  if (name == "uniform") return ClipSamplingMode::kUniform;
  throw Error("unknown clip sampling mode '" + std::string(name) +
              "' (expected random, strided or uniform)");
}

std::string to_string(ClipSamplingMode mode) {
  switch (mode) {
    case ClipSamplingMode::kRandom:
      return "random";
    case ClipSamplingMode::kStrided:
      return "strided";
    case ClipSamplingMode::kUniform:
      return "uniform";
  }
  return "unknown";
}

std::uint64_t stable_hash(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

std::uint64_t SplitMix64::next() {
  state_ += 0x9E3779B97F4A7C15ull;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::below(std::uint64_t bound) {
  // Rejection sampling: drop the top partial range so every residue is equally likely.
  const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % bound);
  std::uint64_t value = next();
  while (value >= limit) value = next();
  return value % bound;
}

std::vector<int> sample_frame_indices(int sequence_length, const ClipSampling& sampling) {
  const int count = sampling.num_frames;
  require(count >= 1, "clip sampling: num_frames must be >= 1, got " + std::to_string(count));
  require(sequence_length >= count, "clip sampling: sequence has " +
                                        std::to_string(sequence_length) + " frames, fewer than " +
                                        "the " + std::to_string(count) + " requested");
  std::vector<int> indices;
  indices.reserve(static_cast<std::size_t>(count));
  SplitMix64 rng(sampling.seed);
  switch (sampling.mode) {
    case ClipSamplingMode::kRandom: {
      // Partial Fisher-Yates: the first `count` slots end up a uniform random subset.
      std::vector<int> pool(static_cast<std::size_t>(sequence_length));
      std::iota(pool.begin(), pool.end(), 0);
      for (int i = 0; i < count; ++i) {
        const auto j = static_cast<std::size_t>(i) +
                       rng.below(static_cast<std::uint64_t>(sequence_length - i));
        std::swap(pool[static_cast<std::size_t>(i)], pool[j]);
      }
      indices.assign(pool.begin(), pool.begin() + count);
      std::sort(indices.begin(), indices.end());
      break;
    }
    case ClipSamplingMode::kStrided: {
      require(sampling.stride >= 1,
              "clip sampling: stride must be >= 1, got " + std::to_string(sampling.stride));
      const long long span = static_cast<long long>(count - 1) * sampling.stride + 1;
      require(span <= sequence_length,
              "clip sampling: " + std::to_string(count) + " frames with stride " +
                  std::to_string(sampling.stride) + " span " + std::to_string(span) +
                  " frames, more than the sequence's " + std::to_string(sequence_length));
      const long long last_start = sequence_length - span;
      long long start = sampling.start;
      if (start < 0)
        start = static_cast<long long>(rng.below(static_cast<std::uint64_t>(last_start + 1)));
      require(start <= last_start, "clip sampling: start " + std::to_string(start) +
                                       " with stride " + std::to_string(sampling.stride) +
                                       " runs past the sequence's " +
                                       std::to_string(sequence_length) + " frames");
      for (int i = 0; i < count; ++i)
        indices.push_back(static_cast<int>(start + static_cast<long long>(i) * sampling.stride));
      break;
    }
    case ClipSamplingMode::kUniform: {
      if (count == 1) {
        indices.push_back((sequence_length - 1) / 2);
        break;
      }
      // Spacing (n-1)/(T-1) >= 1 when n >= T, so rounding keeps the indices distinct.
      const double step = static_cast<double>(sequence_length - 1) / (count - 1);
      for (int i = 0; i < count; ++i) indices.push_back(static_cast<int>(std::lround(i * step)));
      break;
    }
  }
  return indices;
}

}  // namespace vidprobe
