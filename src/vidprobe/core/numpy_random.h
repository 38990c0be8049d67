#pragma once
// NumPy's default random generator, bit for bit: `np.random.default_rng(seed)` is a PCG64
// (128-bit LCG, XSL-RR output) seeded through a SeedSequence, and `Generator.integers(low, high)`
// draws with Lemire's bounded method on 32-bit halves of the 64-bit outputs. The authors of the
// paper draw their probe views with it (VideoProbeDataset: `default_rng(seed + index)` and
// `integers(0, slack + 1, size=3)`), so reproducing it reproduces their views exactly.
// Verified against NumPy's own outputs (tests/fixtures/vidfm3d/views.json).
#include <cstdint>
#include <vector>

namespace vidprobe {

// PCG64's 128-bit state (a GCC/Clang extension; __extension__ keeps -Wpedantic quiet).
__extension__ typedef unsigned __int128 Uint128;

// numpy.random.SeedSequence(entropy).generate_state(n_words, np.uint32). `entropy` holds the
// integers of the seed, each split into little-endian 32-bit words as NumPy does (0 -> one word).
std::vector<std::uint32_t> seed_sequence_state(const std::vector<std::uint64_t>& entropy,
                                               int n_words);

class NumpyGenerator {
 public:
  // np.random.default_rng(seed) / default_rng([a, b, c]).
  explicit NumpyGenerator(std::uint64_t seed);
  explicit NumpyGenerator(const std::vector<std::uint64_t>& entropy);

  std::uint64_t next_uint64();  // bit_generator.random_raw()
  std::uint32_t next_uint32();  // low half of a 64-bit output, then its high half
  // Generator.integers(low, high) for one int64 value in [low, high), high > low.
  std::int64_t integers(std::int64_t low, std::int64_t high);

 private:
  void seed_from(const std::vector<std::uint64_t>& entropy);
  Uint128 state_ = 0, increment_ = 0;
  bool has_uint32_ = false;
  std::uint32_t buffered_uint32_ = 0;
};

}  // namespace vidprobe
