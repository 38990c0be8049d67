#include "vidprobe/core/numpy_random.h"

#include <limits>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

// SeedSequence's published constants (NumPy, numpy/random/bit_generator.pyx).
constexpr std::uint32_t kInitA = 0x43b0d7e5, kMultA = 0x931e8875;
constexpr std::uint32_t kInitB = 0x8b51f9dd, kMultB = 0x58f38ded;
constexpr std::uint32_t kMixMultL = 0xca01f9dd, kMixMultR = 0x4973f715;
constexpr int kXShift = 16;
constexpr std::size_t kPoolSize = 4;

// PCG64's multiplier (O'Neill's 128-bit default).
constexpr Uint128 kPcgMultiplier =
    (static_cast<Uint128>(0x2360ED051FC65DA4ull) << 64) | 0x4385DF649FCCF645ull;

std::uint32_t hash_mix(std::uint32_t value, std::uint32_t& hash_const) {
  value ^= hash_const;
  hash_const *= kMultA;
  value *= hash_const;
  value ^= value >> kXShift;
  return value;
}

std::uint32_t mix(std::uint32_t x, std::uint32_t y) {
  std::uint32_t result = kMixMultL * x - kMixMultR * y;
  result ^= result >> kXShift;
  return result;
}

std::vector<std::uint32_t> to_words(const std::vector<std::uint64_t>& entropy) {
  std::vector<std::uint32_t> words;
  for (std::uint64_t value : entropy) {
    if (value == 0) words.push_back(0);
    for (; value > 0; value >>= 32) words.push_back(static_cast<std::uint32_t>(value));
  }
  return words;
}

std::vector<std::uint32_t> entropy_pool(const std::vector<std::uint32_t>& entropy) {
  std::vector<std::uint32_t> pool(kPoolSize);
  std::uint32_t hash_const = kInitA;
  for (std::size_t i = 0; i < kPoolSize; ++i)
    pool[i] = hash_mix(i < entropy.size() ? entropy[i] : 0, hash_const);
  for (std::size_t src = 0; src < kPoolSize; ++src)
    for (std::size_t dst = 0; dst < kPoolSize; ++dst)
      if (src != dst) pool[dst] = mix(pool[dst], hash_mix(pool[src], hash_const));
  for (std::size_t src = kPoolSize; src < entropy.size(); ++src)
    for (std::size_t dst = 0; dst < kPoolSize; ++dst)
      pool[dst] = mix(pool[dst], hash_mix(entropy[src], hash_const));
  return pool;
}

std::uint64_t xsl_rr(Uint128 state) {
  const auto high = static_cast<std::uint64_t>(state >> 64);
  const auto low = static_cast<std::uint64_t>(state);
  const auto rotation = static_cast<unsigned>(state >> 122);
  const std::uint64_t value = high ^ low;
  return (value >> rotation) | (value << ((64 - rotation) & 63));
}

}  // namespace

std::vector<std::uint32_t> seed_sequence_state(const std::vector<std::uint64_t>& entropy,
                                               int n_words) {
  const auto pool = entropy_pool(to_words(entropy));
  std::vector<std::uint32_t> state(static_cast<std::size_t>(n_words));
  std::uint32_t hash_const = kInitB;
  for (std::size_t i = 0; i < state.size(); ++i) {
    std::uint32_t value = pool[i % kPoolSize];
    value ^= hash_const;
    hash_const *= kMultB;
    value *= hash_const;
    value ^= value >> kXShift;
    state[i] = value;
  }
  return state;
}

NumpyGenerator::NumpyGenerator(std::uint64_t seed) {
  seed_from({seed});
}

NumpyGenerator::NumpyGenerator(const std::vector<std::uint64_t>& entropy) {
  require(!entropy.empty(), "NumpyGenerator: empty seed");
  seed_from(entropy);
}

void NumpyGenerator::seed_from(const std::vector<std::uint64_t>& entropy) {
  // PCG64 takes generate_state(4, uint64): words (0,1) -> the initial state's high and low
  // halves, words (2,3) -> the stream; uint64 words are pairs of uint32 words, low word first.
  const auto words = seed_sequence_state(entropy, 8);
  auto u64 = [&](int i) {
    return static_cast<std::uint64_t>(words[2 * i]) |
           (static_cast<std::uint64_t>(words[2 * i + 1]) << 32);
  };
  const auto initial = (static_cast<Uint128>(u64(0)) << 64) | u64(1);
  const auto sequence = (static_cast<Uint128>(u64(2)) << 64) | u64(3);
  state_ = 0;
  increment_ = (sequence << 1) | 1;
  state_ = state_ * kPcgMultiplier + increment_;
  state_ += initial;
  state_ = state_ * kPcgMultiplier + increment_;
  has_uint32_ = false;
}

std::uint64_t NumpyGenerator::next_uint64() {
  state_ = state_ * kPcgMultiplier + increment_;
  return xsl_rr(state_);
}

std::uint32_t NumpyGenerator::next_uint32() {
  if (has_uint32_) {
    has_uint32_ = false;
    return buffered_uint32_;
  }
  const std::uint64_t value = next_uint64();
  has_uint32_ = true;
  buffered_uint32_ = static_cast<std::uint32_t>(value >> 32);
  return static_cast<std::uint32_t>(value);
}

std::int64_t NumpyGenerator::integers(std::int64_t low, std::int64_t high) {
  require(high > low, "NumpyGenerator::integers: empty range");
  const auto range = static_cast<std::uint64_t>(high - low - 1);  // inclusive span
  if (range == 0) return low;
  require(range < std::numeric_limits<std::uint32_t>::max(),
          "NumpyGenerator::integers: ranges of 2^32 values or more are not implemented");
  // Lemire's multiply-and-reject on 32-bit draws, as NumPy's bounded uint64 fill does for spans
  // below 2^32 - 1.
  const auto exclusive = static_cast<std::uint32_t>(range + 1);
  std::uint64_t product = static_cast<std::uint64_t>(next_uint32()) * exclusive;
  auto leftover = static_cast<std::uint32_t>(product);
  if (leftover < exclusive) {
    const std::uint32_t threshold =
        (std::numeric_limits<std::uint32_t>::max() - static_cast<std::uint32_t>(range)) % exclusive;
    while (leftover < threshold) {
      product = static_cast<std::uint64_t>(next_uint32()) * exclusive;
      leftover = static_cast<std::uint32_t>(product);
    }
  }
  return low + static_cast<std::int64_t>(product >> 32);
}

}  // namespace vidprobe
