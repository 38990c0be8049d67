#pragma once
// Python's `random` module, bit for bit, for the calls the paper's data processing makes:
// `random.seed(int)` (MT19937 seeded with init_by_array over the integer's 32-bit words),
// `getrandbits(k)`, `random()` and `shuffle(list)` (Fisher-Yates from the end, each index drawn
// by `_randbelow`: getrandbits(n.bit_length()) redrawn until below n). The authors split their
// processed CO3Dv2 and DL3DV scenes with `random.seed(0); random.shuffle(scenes)`
// (data/processing/{co3d,dl3dv}/create_split.py), so this reproduces their train/val split.
// Verified against CPython's own outputs (tests/fixtures/vidfm3d/python_random.json, written by
// tools/make_python_random_fixtures.py).
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace vidprobe {

class PythonRandom {
 public:
  // random.seed(seed) for a non-negative integer seed (CPython seeds with abs(seed)).
  explicit PythonRandom(std::uint64_t seed);

  std::uint32_t next_uint32();  // MT19937 genrand_uint32
  // random.getrandbits(bits) for 1 <= bits <= 64.
  std::uint64_t getrandbits(int bits);
  double random();  // random.random(): 53-bit float in [0, 1)
  // random._randbelow(n) for n >= 1 (the getrandbits rejection method).
  std::uint64_t randbelow(std::uint64_t n);

  // random.shuffle(items) in place.
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i-- > 1;) {
      const auto j = static_cast<std::size_t>(randbelow(i + 1));
      std::swap(items[i], items[j]);
    }
  }

 private:
  void init_genrand(std::uint32_t seed);
  void init_by_array(const std::vector<std::uint32_t>& key);
  void twist();
  static constexpr int kStateSize = 624;
  std::array<std::uint32_t, kStateSize> state_{};
  int index_ = kStateSize;
};

}  // namespace vidprobe
