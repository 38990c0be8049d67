#include "vidprobe/core/python_random.h"

#include <bit>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

// MT19937's published constants (Matsumoto & Nishimura 1998; CPython's _randommodule.c).
constexpr int kShift = 397;
constexpr std::uint32_t kMatrixA = 0x9908b0dfU;
constexpr std::uint32_t kUpperMask = 0x80000000U, kLowerMask = 0x7fffffffU;
constexpr std::uint32_t kArraySeed = 19650218U;

}  // namespace

PythonRandom::PythonRandom(std::uint64_t seed) {
  // CPython splits abs(seed) into little-endian 32-bit words; 0 gives the one-word key [0].
  std::vector<std::uint32_t> key;
  for (std::uint64_t value = seed; value > 0; value >>= 32)
    key.push_back(static_cast<std::uint32_t>(value));
  if (key.empty()) key.push_back(0);
  init_by_array(key);
}

void PythonRandom::init_genrand(std::uint32_t seed) {
  state_[0] = seed;
  for (int i = 1; i < kStateSize; ++i)
    state_[i] =
        1812433253U * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
  index_ = kStateSize;
}

void PythonRandom::init_by_array(const std::vector<std::uint32_t>& key) {
  init_genrand(kArraySeed);
  const int key_length = static_cast<int>(key.size());
  int i = 1, j = 0;
  for (int k = std::max(kStateSize, key_length); k > 0; --k) {
    state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1664525U)) + key[j] +
                static_cast<std::uint32_t>(j);
    ++i;
    ++j;
    if (i >= kStateSize) {
      state_[0] = state_[kStateSize - 1];
      i = 1;
    }
    if (j >= key_length) j = 0;
  }
  for (int k = kStateSize - 1; k > 0; --k) {
    state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1566083941U)) -
                static_cast<std::uint32_t>(i);
    ++i;
    if (i >= kStateSize) {
      state_[0] = state_[kStateSize - 1];
      i = 1;
    }
  }
  state_[0] = 0x80000000U;  // the most significant bit is 1: a non-zero initial array
}

void PythonRandom::twist() {
  for (int k = 0; k < kStateSize; ++k) {
    const std::uint32_t y = (state_[k] & kUpperMask) | (state_[(k + 1) % kStateSize] & kLowerMask);
    state_[k] = state_[(k + kShift) % kStateSize] ^ (y >> 1) ^ ((y & 1U) ? kMatrixA : 0U);
  }
  index_ = 0;
}

std::uint32_t PythonRandom::next_uint32() {
  if (index_ >= kStateSize) twist();
  std::uint32_t y = state_[index_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  return y;
}

std::uint64_t PythonRandom::getrandbits(int bits) {
  require(bits >= 1 && bits <= 64,
          "getrandbits: bits must be in [1, 64], got " + std::to_string(bits));
  if (bits <= 32) return next_uint32() >> (32 - bits);
  // Words are filled least significant first; the last (most significant) word is truncated.
  const std::uint64_t low = next_uint32();
  const std::uint64_t high = next_uint32() >> (64 - bits);
  return low | (high << 32);
}

double PythonRandom::random() {
  const std::uint32_t a = next_uint32() >> 5, b = next_uint32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

std::uint64_t PythonRandom::randbelow(std::uint64_t n) {
  require(n >= 1, "randbelow: n must be positive");
  const int bits = std::bit_width(n);
  std::uint64_t r = getrandbits(bits);
  while (r >= n) r = getrandbits(bits);
  return r;
}

}  // namespace vidprobe
