#include "vidprobe/data/resize.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "vidprobe/core/error.h"
#include "vidprobe/data/resize_kernels.h"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace vidprobe {
namespace {

// Source coordinate of a destination pixel centre when an axis of length `from` becomes `to`.
double source_coordinate(int destination, int from, int to) {
  return (destination + 0.5) * static_cast<double>(from) / to - 0.5;
}

// One axis's triangle filter: for every output position the first source pixel and the weights
// of the consecutive source pixels it reads (in `weights`, from `offset`).
struct AxisFilter {
  struct Tap {
    int first = 0, count = 0;
    std::size_t offset = 0;
  };
  std::vector<Tap> taps;
  std::vector<float> weights;
  const float* weights_of(const Tap& tap) const { return weights.data() + tap.offset; }
};

// Triangle filter widened by the downscale factor, so downscaling averages every source pixel
// (antialiasing) and upscaling is plain bilinear interpolation.
AxisFilter triangle_filter(int from, int to) {
  const double scale = static_cast<double>(to) / from;
  const double radius = std::max(1.0, 1.0 / scale);
  AxisFilter filter;
  filter.taps.resize(static_cast<std::size_t>(to));
  std::vector<double> raw;
  for (int d = 0; d < to; ++d) {
    const double centre = source_coordinate(d, from, to);
    const int lo = std::max(0, static_cast<int>(std::floor(centre - radius)) + 1);
    const int hi = std::min(from - 1, static_cast<int>(std::ceil(centre + radius)) - 1);
    AxisFilter::Tap& tap = filter.taps[static_cast<std::size_t>(d)];
    tap.offset = filter.weights.size();
    raw.clear();
    double total = 0.0;
    for (int s = lo; s <= hi; ++s) {
      const double w = std::max(0.0, 1.0 - std::abs(s - centre) / radius);
      // Stored as float first, then normalised from the float, as the weights always were.
      raw.push_back(static_cast<float>(w));
      total += w;
    }
    if (total <= 0.0) {  // only when the centre falls outside the image: take the border pixel
      tap.first = std::clamp(static_cast<int>(std::lround(centre)), 0, from - 1);
      tap.count = 1;
      filter.weights.push_back(1.0f);
      continue;
    }
    tap.first = lo;
    tap.count = static_cast<int>(raw.size());
    for (const double w : raw) filter.weights.push_back(static_cast<float>(w / total));
  }
  return filter;
}

// The filters depend only on the two lengths; a loader thread resizes every frame of a dataset
// between the same sizes, so each thread keeps the few it used last.
std::shared_ptr<const AxisFilter> cached_triangle_filter(int from, int to) {
  struct Entry {
    int from = 0, to = 0;
    std::shared_ptr<const AxisFilter> filter;
  };
  constexpr std::size_t kEntries = 8;
  thread_local std::vector<Entry> cache;
  for (std::size_t i = 0; i < cache.size(); ++i)
    if (cache[i].from == from && cache[i].to == to) {
      std::rotate(cache.begin(), cache.begin() + static_cast<std::ptrdiff_t>(i),
                  cache.begin() + static_cast<std::ptrdiff_t>(i) + 1);  // most recent first
      return cache.front().filter;
    }
  if (cache.size() == kEntries) cache.pop_back();
  cache.insert(cache.begin(),
               {from, to, std::make_shared<const AxisFilter>(triangle_filter(from, to))});
  return cache.front().filter;
}

int nearest_source(int destination, int from, int to) {
  // The source pixel whose footprint contains the destination pixel centre.
  const double x = (destination + 0.5) * static_cast<double>(from) / to;
  return std::clamp(static_cast<int>(std::floor(x)), 0, from - 1);
}

// The source pixels [first, end) that outputs [start, start + count) read.
std::pair<int, int> source_span(const AxisFilter& filter, int start, int count) {
  std::pair<int, int> range{std::numeric_limits<int>::max(), 0};
  for (int d = start; d < start + count; ++d) {
    const auto& tap = filter.taps[static_cast<std::size_t>(d)];
    range.first = std::min(range.first, tap.first);
    range.second = std::max(range.second, tap.first + tap.count);
  }
  return range;
}

// The part of a resized image that is kept: columns [x0, x0 + width) and rows [y0, y0 + height)
// of the image resized to the full size. Resizing only the window gives the same values as
// resizing everything and cropping (every output pixel is computed on its own).
struct Window {
  int x0 = 0, y0 = 0, width = 0, height = 0;
};

// One output pixel's horizontal sum per channel, over its taps in ascending order from 0 (the
// order every path below keeps, so they all give the same floats).
// `source_row` holds the source row from column `first_column` on.
template <std::size_t kChannels>
void horizontal_pass(const float* source_row, int first_column, const AxisFilter& filter, int x0,
                     int width, float* out) {
  for (int x = x0; x < x0 + width; ++x) {
    const auto& tap = filter.taps[static_cast<std::size_t>(x)];
    const float* w = filter.weights_of(tap);
    const float* first =
        source_row + static_cast<std::size_t>(tap.first - first_column) * kChannels;
    float sum[kChannels] = {};
    for (int k = 0; k < tap.count; ++k)
      for (std::size_t c = 0; c < kChannels; ++c)
        sum[c] += w[k] * first[static_cast<std::size_t>(k) * kChannels + c];
    for (std::size_t c = 0; c < kChannels; ++c) out[c] = sum[c];
    out += kChannels;
  }
}

void horizontal_pass_any(const float* source_row, int first_column, std::size_t channels,
                         const AxisFilter& filter, int x0, int width, float* out) {
  for (int x = x0; x < x0 + width; ++x) {
    const auto& tap = filter.taps[static_cast<std::size_t>(x)];
    const float* w = filter.weights_of(tap);
    const float* first = source_row + static_cast<std::size_t>(tap.first - first_column) * channels;
    for (std::size_t c = 0; c < channels; ++c) {
      float sum = 0.0f;
      for (int k = 0; k < tap.count; ++k)
        sum += w[k] * first[static_cast<std::size_t>(k) * channels + c];
      out[c] = sum;
    }
    out += channels;
  }
}

// Set by resize_kernels::force_kernels, so that the tests reach every path on any machine.
std::atomic<resize_kernels::Kernels> forced_kernels{resize_kernels::Kernels::kBest};

#if defined(__SSE2__)
// Several source rows at once, one per vector lane: for a given output column every row has the
// same taps, so each lane does the multiplies and adds of horizontal_pass, in its order (a
// multiply then an add, never fused: FMA is not enabled), and gives the same floats. The rows are
// transposed into [source element][lane] for it, and its sums back into rows.
constexpr int kMaxLanes = 8;

// Rows per group: 8 with AVX2, 4 with SSE2, 0 for one row at a time.
int row_lanes() {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  switch (forced_kernels.load(std::memory_order_relaxed)) {
    case resize_kernels::Kernels::kScalar:
      return 0;
    case resize_kernels::Kernels::kSse2:
      return 4;
    case resize_kernels::Kernels::kBest:
      break;
  }
  return avx2 ? 8 : 4;
}

// Rows of an image or buffer, `stride` elements apart (held by value, in registers: unlike an
// array of row pointers, the vector stores, which may alias anything, cannot make it reload them).
template <typename P>
struct Rows {
  P* data;
  std::size_t stride;
  P* operator[](std::size_t r) const { return data + r * stride; }
  Rows from(std::size_t row, std::size_t column) const { return {(*this)[row] + column, stride}; }
};

// out[i * stride + r] = in[r][i] for the 4 rows r and the `count` elements i.
void load_lanes(Rows<const std::uint8_t> in, std::size_t count, std::size_t stride, float* out) {
  std::size_t i = 0;
  const __m128i zero = _mm_setzero_si128();
  for (; i + 16 <= count; i += 16) {
    const auto row = [&](int r) {
      return _mm_loadu_si128(reinterpret_cast<const __m128i*>(in[r] + i));
    };
    const __m128i a = row(0), b = row(1), c = row(2), d = row(3);
    const __m128i ab_lo = _mm_unpacklo_epi8(a, b), cd_lo = _mm_unpacklo_epi8(c, d);
    const __m128i ab_hi = _mm_unpackhi_epi8(a, b), cd_hi = _mm_unpackhi_epi8(c, d);
    // Four elements each, every element as the bytes of rows 0, 1, 2, 3.
    const __m128i quads[4] = {_mm_unpacklo_epi16(ab_lo, cd_lo), _mm_unpackhi_epi16(ab_lo, cd_lo),
                              _mm_unpacklo_epi16(ab_hi, cd_hi), _mm_unpackhi_epi16(ab_hi, cd_hi)};
    float* o = out + i * stride;
    for (const __m128i quad : quads) {
      const __m128i lo = _mm_unpacklo_epi8(quad, zero), hi = _mm_unpackhi_epi8(quad, zero);
      _mm_storeu_ps(o, _mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, zero)));
      _mm_storeu_ps(o + stride, _mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, zero)));
      _mm_storeu_ps(o + 2 * stride, _mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, zero)));
      _mm_storeu_ps(o + 3 * stride, _mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, zero)));
      o += 4 * stride;
    }
  }
  for (; i < count; ++i)
    for (std::size_t r = 0; r < 4; ++r) out[i * stride + r] = static_cast<float>(in[r][i]);
}

void load_lanes(Rows<const float> in, std::size_t count, std::size_t stride, float* out) {
  std::size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    __m128 a = _mm_loadu_ps(in[0] + i), b = _mm_loadu_ps(in[1] + i);
    __m128 c = _mm_loadu_ps(in[2] + i), d = _mm_loadu_ps(in[3] + i);
    _MM_TRANSPOSE4_PS(a, b, c, d);
    _mm_storeu_ps(out + i * stride, a);
    _mm_storeu_ps(out + (i + 1) * stride, b);
    _mm_storeu_ps(out + (i + 2) * stride, c);
    _mm_storeu_ps(out + (i + 3) * stride, d);
  }
  for (; i < count; ++i)
    for (std::size_t r = 0; r < 4; ++r) out[i * stride + r] = in[r][i];
}

// out[r][i] = in[i * stride + r] for the 4 rows r and the `count` elements i.
void store_lanes(const float* in, std::size_t count, std::size_t stride, Rows<float> out) {
  std::size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    __m128 a = _mm_loadu_ps(in + i * stride), b = _mm_loadu_ps(in + (i + 1) * stride);
    __m128 c = _mm_loadu_ps(in + (i + 2) * stride), d = _mm_loadu_ps(in + (i + 3) * stride);
    _MM_TRANSPOSE4_PS(a, b, c, d);
    _mm_storeu_ps(out[0] + i, a);
    _mm_storeu_ps(out[1] + i, b);
    _mm_storeu_ps(out[2] + i, c);
    _mm_storeu_ps(out[3] + i, d);
  }
  for (; i < count; ++i)
    for (std::size_t r = 0; r < 4; ++r) out[r][i] = in[i * stride + r];
}

// store_lanes of 8 rows (stride 8), 8 elements at a time: an 8 x 8 transpose in registers.
__attribute__((target("avx2"))) void store_lanes_avx2(const float* in, std::size_t count,
                                                      Rows<float> out) {
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 e[8], pairs[8], quads[8];  // elements i..i+7 (rows in lanes), then shuffled
    for (int k = 0; k < 8; ++k) e[k] = _mm256_loadu_ps(in + (i + k) * 8);
    for (int k = 0; k < 8; k += 2) {
      pairs[k] = _mm256_unpacklo_ps(e[k], e[k + 1]);
      pairs[k + 1] = _mm256_unpackhi_ps(e[k], e[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
      quads[k] = _mm256_shuffle_ps(pairs[k], pairs[k + 2], 0x44);
      quads[k + 1] = _mm256_shuffle_ps(pairs[k], pairs[k + 2], 0xEE);
      quads[k + 2] = _mm256_shuffle_ps(pairs[k + 1], pairs[k + 3], 0x44);
      quads[k + 3] = _mm256_shuffle_ps(pairs[k + 1], pairs[k + 3], 0xEE);
    }
    for (int r = 0; r < 4; ++r) {  // rows r and r + 4: the low and high halves of the lanes
      _mm256_storeu_ps(out[r] + i, _mm256_permute2f128_ps(quads[r], quads[r + 4], 0x20));
      _mm256_storeu_ps(out[r + 4] + i, _mm256_permute2f128_ps(quads[r], quads[r + 4], 0x31));
    }
  }
  for (; i < count; ++i)
    for (std::size_t r = 0; r < 8; ++r) out[r][i] = in[i * 8 + r];
}

// GCC's generic vectors of 4 and 8 floats: one loop body below serves SSE2 and AVX2, compiled
// for whichever the function it is inlined into targets. Only locals hold them, never parameters
// or results, which would tie a non-AVX function to the AVX calling convention (-Wpsabi). Memory
// is the same vector for loads and stores anywhere in a float array: unaligned, and allowed to
// alias the floats. (Typedefs in a struct, since a template argument would drop the attributes.)
struct Float4Lanes {
  typedef float Vector __attribute__((vector_size(16)));
  typedef float Memory __attribute__((vector_size(16), may_alias, aligned(4)));
};
struct Float8Lanes {
  typedef float Vector __attribute__((vector_size(32)));
  typedef float Memory __attribute__((vector_size(32), may_alias, aligned(4)));
};

// horizontal_pass on as many rows as a Lanes vector has floats, in [element][lane] layout: each
// lane multiplies then adds as the scalar loop does (GCC contracts nothing here: resize.cpp is
// built without FP contraction, and the AVX2 target does not enable FMA).
template <typename Lanes, std::size_t kChannels>
[[gnu::always_inline]] inline void horizontal_pass_lanes(const float* source, int first_column,
                                                         const AxisFilter& filter, int x0,
                                                         int width, float* out) {
  using Vector = typename Lanes::Vector;
  using Memory = typename Lanes::Memory;
  constexpr std::size_t kLanes = sizeof(Vector) / sizeof(float);
  for (int x = x0; x < x0 + width; ++x) {
    const auto& tap = filter.taps[static_cast<std::size_t>(x)];
    const float* w = filter.weights_of(tap);
    const float* first =
        source + static_cast<std::size_t>(tap.first - first_column) * kChannels * kLanes;
    Vector sum[kChannels] = {};
    for (int k = 0; k < tap.count; ++k) {
      for (std::size_t c = 0; c < kChannels; ++c)
        sum[c] = sum[c] + w[k] * *reinterpret_cast<const Memory*>(first + c * kLanes);
      first += kChannels * kLanes;
    }
    for (std::size_t c = 0; c < kChannels; ++c)
      *reinterpret_cast<Memory*>(out + c * kLanes) = sum[c];
    out += kChannels * kLanes;
  }
}

template <std::size_t kChannels>
void horizontal_pass_sse2(const float* source, int first_column, const AxisFilter& filter, int x0,
                          int width, float* out) {
  horizontal_pass_lanes<Float4Lanes, kChannels>(source, first_column, filter, x0, width, out);
}

template <std::size_t kChannels>
__attribute__((target("avx2"))) void horizontal_pass_avx2(const float* source, int first_column,
                                                          const AxisFilter& filter, int x0,
                                                          int width, float* out) {
  horizontal_pass_lanes<Float8Lanes, kChannels>(source, first_column, filter, x0, width, out);
}

// load_lanes of 8 rows of bytes (stride 8): one 32-byte store per element instead of two.
__attribute__((target("avx2"))) void load_lanes_avx2(Rows<const std::uint8_t> in, std::size_t count,
                                                     float* out) {
  std::size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m128i row[8];
    for (int r = 0; r < 8; ++r)
      row[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in[r] + i));
    for (int half = 0; half < 2; ++half) {  // elements 0-7, then 8-15
      __m128i pairs[4], quads[4];  // bytes of rows (0 1) (2 3) (4 5) (6 7), then (0-3) (4-7)
      for (int p = 0; p < 4; ++p)
        pairs[p] = half == 0 ? _mm_unpacklo_epi8(row[2 * p], row[2 * p + 1])
                             : _mm_unpackhi_epi8(row[2 * p], row[2 * p + 1]);
      quads[0] = _mm_unpacklo_epi16(pairs[0], pairs[1]);
      quads[1] = _mm_unpackhi_epi16(pairs[0], pairs[1]);
      quads[2] = _mm_unpacklo_epi16(pairs[2], pairs[3]);
      quads[3] = _mm_unpackhi_epi16(pairs[2], pairs[3]);
      // Two elements each, every element as the bytes of rows 0-7.
      const __m128i elements[4] = {
          _mm_unpacklo_epi32(quads[0], quads[2]), _mm_unpackhi_epi32(quads[0], quads[2]),
          _mm_unpacklo_epi32(quads[1], quads[3]), _mm_unpackhi_epi32(quads[1], quads[3])};
      float* o = out + (i + 8 * static_cast<std::size_t>(half)) * 8;
      for (const __m128i two : elements) {
        _mm256_storeu_ps(o, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(two)));
        _mm256_storeu_ps(o + 8, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(two, 8))));
        o += 16;
      }
    }
  }
  for (; i < count; ++i)
    for (std::size_t r = 0; r < 8; ++r) out[i * 8 + r] = static_cast<float>(in[r][i]);
}

// `lanes` (4 or 8) rows into [element][lane] layout.
void load_rows(Rows<const std::uint8_t> source, std::size_t count, int lanes, float* in) {
  if (lanes == 8) return load_lanes_avx2(source, count, in);
  load_lanes(source, count, 4, in);
}

void load_rows(Rows<const float> source, std::size_t count, int lanes, float* in) {
  const auto stride = static_cast<std::size_t>(lanes);
  for (int r = 0; r < lanes; r += 4) load_lanes(source.from(r, 0), count, stride, in + r);
}

// The vertical pass of one output row: out[j] = the sum over k < count of w[k] * first[k *
// stride + j], in ascending k from 0 as the scalar loop in resize_triangle, 4 vectors of columns
// at a time with the sums kept in registers. Returns the columns it did; the scalar loop does the
// rest.
template <typename Lanes>
[[gnu::always_inline]] inline std::size_t vertical_pass_lanes(const float* first,
                                                              std::size_t stride, const float* w,
                                                              int count, std::size_t size,
                                                              float* out) {
  using Memory = typename Lanes::Memory;
  constexpr std::size_t kLanes = sizeof(typename Lanes::Vector) / sizeof(float);
  std::size_t j = 0;
  for (; j + 4 * kLanes <= size; j += 4 * kLanes) {
    typename Lanes::Vector sum[4] = {};
    const float* source = first + j;
    for (int k = 0; k < count; ++k, source += stride)
      for (std::size_t v = 0; v < 4; ++v)
        sum[v] = sum[v] + w[k] * *reinterpret_cast<const Memory*>(source + v * kLanes);
    for (std::size_t v = 0; v < 4; ++v) *reinterpret_cast<Memory*>(out + j + v * kLanes) = sum[v];
  }
  return j;
}

std::size_t vertical_pass_sse2(const float* first, std::size_t stride, const float* w, int count,
                               std::size_t size, float* out) {
  return vertical_pass_lanes<Float4Lanes>(first, stride, w, count, size, out);
}

__attribute__((target("avx2"))) std::size_t vertical_pass_avx2(const float* first,
                                                               std::size_t stride, const float* w,
                                                               int count, std::size_t size,
                                                               float* out) {
  return vertical_pass_lanes<Float8Lanes>(first, stride, w, count, size, out);
}

// horizontal_pass<kChannels> of `lanes` (4 or 8) rows: source[r] holds row r from column
// `first_column` on, out[r] receives its sums. A chunk of output pixels at a time, so that the
// transposed rows in `in` and their sums in `sums` (scratch space) stay in the L1 cache.
template <std::size_t kChannels, typename T>
void horizontal_pass_rows(Rows<const T> source, int first_column, const AxisFilter& filter, int x0,
                          int width, int lanes, float* in, float* sums, Rows<float> out) {
  constexpr int kChunk = 64;
  for (int x = x0; x < x0 + width; x += kChunk) {
    const int count = std::min(kChunk, x0 + width - x);
    const auto [first, end] = source_span(filter, x, count);
    const auto chunk_source =
        source.from(0, static_cast<std::size_t>(first - first_column) * kChannels);
    const auto chunk_out = out.from(0, static_cast<std::size_t>(x - x0) * kChannels);
    load_rows(chunk_source, static_cast<std::size_t>(end - first) * kChannels, lanes, in);
    if (lanes == 8)
      horizontal_pass_avx2<kChannels>(in, first, filter, x, count, sums);
    else
      horizontal_pass_sse2<kChannels>(in, first, filter, x, count, sums);
    const std::size_t size = static_cast<std::size_t>(count) * kChannels;
    if (lanes == 8)
      store_lanes_avx2(sums, size, chunk_out);
    else
      store_lanes(sums, size, 4, chunk_out);
  }
}

// round_to_u8 (below) of 4 floats, in 32-bit lanes: clamped to [0, 255] (NaN to 0: maxps returns
// its second operand then), truncated, plus one where the dropped fraction is at least 0.5. The
// fraction v - trunc(v) is exact in float (Sterbenz for v >= 1, v itself below), unlike v + 0.5f,
// which rounds up just below k + 0.5. The same bytes as round_to_u8 for all 2^32 float bit
// patterns (checked once by a separate program, too slow for the unit tests).
inline __m128i round_to_u8_sse2(__m128 v) {
  const __m128 clamped = _mm_min_ps(_mm_max_ps(v, _mm_setzero_ps()), _mm_set1_ps(255.0f));
  const __m128i whole = _mm_cvttps_epi32(clamped);
  const __m128 fraction = _mm_sub_ps(clamped, _mm_cvtepi32_ps(whole));
  return _mm_sub_epi32(whole, _mm_castps_si128(_mm_cmpge_ps(fraction, _mm_set1_ps(0.5f))));
}

// round_to_u8 of row[j] into out[j], 16 at a time; returns how many it did.
std::size_t round_row_sse2(const float* row, std::size_t size, std::uint8_t* out) {
  std::size_t j = 0;
  for (; j + 16 <= size; j += 16) {
    __m128i v[4];
    for (int k = 0; k < 4; ++k) v[k] = round_to_u8_sse2(_mm_loadu_ps(row + j + 4 * k));
    const __m128i bytes =
        _mm_packus_epi16(_mm_packs_epi32(v[0], v[1]), _mm_packs_epi32(v[2], v[3]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), bytes);
  }
  return j;
}

// round_to_u8_sse2 on 8 lanes.
__attribute__((target("avx2"))) inline __m256i round_to_u8_avx2(__m256 v) {
  const __m256 clamped =
      _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(255.0f));
  const __m256i whole = _mm256_cvttps_epi32(clamped);
  const __m256 fraction = _mm256_sub_ps(clamped, _mm256_cvtepi32_ps(whole));
  return _mm256_sub_epi32(
      whole, _mm256_castps_si256(_mm256_cmp_ps(fraction, _mm256_set1_ps(0.5f), _CMP_GE_OQ)));
}

// The same, 32 at a time, with the same operations on 8 lanes.
__attribute__((target("avx2"))) std::size_t round_row_avx2(const float* row, std::size_t size,
                                                           std::uint8_t* out) {
  std::size_t j = 0;
  for (; j + 32 <= size; j += 32) {
    __m256i v[4];
    for (int k = 0; k < 4; ++k) v[k] = round_to_u8_avx2(_mm256_loadu_ps(row + j + 8 * k));
    // The packs work within 128-bit halves: bytes come out as v0[0-3] v1[0-3] v2[0-3] v3[0-3]
    // v0[4-7] ..., put back in order by 4-byte groups.
    const __m256i bytes =
        _mm256_packus_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(out + j),
        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
  return j;
}
#endif

// Separable: rows first, then columns, each over the window only (the rows pass reads only the
// source rows the window's columns pass needs). Each output value is accumulated over its taps in
// ascending order from 0, so the loop order below (chosen so that the inner loops run over
// contiguous memory and vectorise) and the vector code (rows in vector lanes horizontally,
// columns vertically) give the same floats as a per-pixel loop would. `emit(y, row)` receives
// each finished output row of window.width * channels floats.
template <typename T, typename Emit>
void resize_triangle(const Image<T>& image, int width, int height, const Window& window,
                     Emit emit) {
  const auto channels = static_cast<std::size_t>(image.channels);
  const auto horizontal_filter = cached_triangle_filter(image.width, width);
  const auto vertical_filter = cached_triangle_filter(image.height, height);
  const AxisFilter& horizontal = *horizontal_filter;
  const AxisFilter& vertical = *vertical_filter;
  // The source rows and columns the window reads.
  const auto [first_row, end_row] = source_span(vertical, window.y0, window.height);
  const auto [first_column, end_column] = source_span(horizontal, window.x0, window.width);
  const std::size_t row_size = static_cast<std::size_t>(window.width) * channels;
  // Not zeroed first (megabytes per frame): every value is written before it is read.
  const auto rows = std::make_unique_for_overwrite<float[]>(
      static_cast<std::size_t>(end_row - first_row) * row_size);
  std::vector<float> source_row(static_cast<std::size_t>(end_column - first_column) * channels);
  int y = first_row;
#if defined(__SSE2__)
  const int vector_width = row_lanes();
  const int lanes = channels == 1 || channels == 3 ? vector_width : 0;
  if (lanes > 0 && end_row - y >= 4) {
    std::vector<float> in(source_row.size() * kMaxLanes), sums(row_size * kMaxLanes);
    // Groups of 8 (or 4) rows while they last, then 4, then the rows left one at a time below.
    for (int group = lanes; group >= 4; group /= 2)
      for (; end_row - y >= group; y += group) {
        const Rows<const T> source{&image.at(first_column, y),
                                   static_cast<std::size_t>(image.width) * channels};
        const Rows<float> out{rows.get() + static_cast<std::size_t>(y - first_row) * row_size,
                              row_size};
        if (channels == 3)
          horizontal_pass_rows<3>(source, first_column, horizontal, window.x0, window.width, group,
                                  in.data(), sums.data(), out);
        else
          horizontal_pass_rows<1>(source, first_column, horizontal, window.x0, window.width, group,
                                  in.data(), sums.data(), out);
      }
  }
#endif
  for (; y < end_row; ++y) {
    const T* in = &image.at(first_column, y);
    std::transform(in, in + source_row.size(), source_row.begin(),
                   [](T v) { return static_cast<float>(v); });
    float* out = rows.get() + static_cast<std::size_t>(y - first_row) * row_size;
    const float* source = source_row.data();
    if (channels == 3)
      horizontal_pass<3>(source, first_column, horizontal, window.x0, window.width, out);
    else if (channels == 1)
      horizontal_pass<1>(source, first_column, horizontal, window.x0, window.width, out);
    else
      horizontal_pass_any(source, first_column, channels, horizontal, window.x0, window.width, out);
  }
  std::vector<float> target(row_size);
  for (y = window.y0; y < window.y0 + window.height; ++y) {
    const auto& tap = vertical.taps[static_cast<std::size_t>(y)];
    const float* w = vertical.weights_of(tap);
    const float* first = rows.get() + static_cast<std::size_t>(tap.first - first_row) * row_size;
    std::size_t done = 0;  // columns done by the vector code
#if defined(__SSE2__)
    if (vector_width == 8)
      done = vertical_pass_avx2(first, row_size, w, tap.count, row_size, target.data());
    else if (vector_width == 4)
      done = vertical_pass_sse2(first, row_size, w, tap.count, row_size, target.data());
#endif
    std::fill(target.begin() + static_cast<std::ptrdiff_t>(done), target.end(), 0.0f);
    for (int k = 0; k < tap.count; ++k) {
      const float weight = w[k];
      const float* source = first + static_cast<std::size_t>(k) * row_size;
      for (std::size_t j = done; j < row_size; ++j) target[j] += weight * source[j];
    }
    emit(y - window.y0, target.data());
  }
}

// std::clamp(std::lround(v), 0, 255) for a float v: for 0 < v < 255, v + 0.5 is exact in double
// and its floor is the rounding half away from zero that lround does; everything at or below 0
// clamps to 0 and everything at or above 255 to 255.
inline std::uint8_t round_to_u8(float v) {
  if (!(v > 0.0f)) return 0;  // NaN included, as clamp(lround(NaN)) gives on x86-64 (LONG_MIN)
  if (v >= 255.0f) return 255;
  return static_cast<std::uint8_t>(static_cast<int>(static_cast<double>(v) + 0.5));
}

ImageU8 resize_bilinear_window(const ImageU8& image, int width, int height, const Window& window) {
  ImageU8 out(window.width, window.height, image.channels, kUninitialised);  // every row emitted
  const std::size_t row_size = static_cast<std::size_t>(window.width) * image.channels;
#if defined(__SSE2__)
  const int vector_width = row_lanes();
#endif
  resize_triangle(image, width, height, window, [&](int y, const float* row) {
    std::uint8_t* target = &out.at(0, y);
    std::size_t j = 0;  // values done by the vector code
#if defined(__SSE2__)
    if (vector_width == 8)
      j = round_row_avx2(row, row_size, target);
    else if (vector_width == 4)
      j = round_row_sse2(row, row_size, target);
#endif
    for (; j < row_size; ++j) target[j] = round_to_u8(row[j]);
  });
  return out;
}

ImageF32 resize_bilinear_window(const ImageF32& image, int width, int height,
                                const Window& window) {
  ImageF32 out(window.width, window.height, image.channels, kUninitialised);
  const std::size_t row_size = static_cast<std::size_t>(window.width) * image.channels;
  resize_triangle(image, width, height, window,
                  [&](int y, const float* row) { std::copy(row, row + row_size, &out.at(0, y)); });
  return out;
}

template <typename T>
Image<T> resize_nearest_window(const Image<T>& image, int width, int height, const Window& window) {
  Image<T> out(window.width, window.height, image.channels, kUninitialised);
  const auto channels = static_cast<std::size_t>(image.channels);
  std::vector<std::size_t> columns(static_cast<std::size_t>(window.width));
  for (int x = 0; x < window.width; ++x)
    columns[static_cast<std::size_t>(x)] =
        static_cast<std::size_t>(nearest_source(window.x0 + x, image.width, width)) * channels;
  for (int y = 0; y < window.height; ++y) {
    const T* source = &image.at(0, nearest_source(window.y0 + y, image.height, height));
    T* target = &out.at(0, y);
    if (channels == 1) {
      for (std::size_t x = 0; x < columns.size(); ++x) target[x] = source[columns[x]];
    } else {
      for (const std::size_t column : columns)
        for (std::size_t c = 0; c < channels; ++c) *target++ = source[column + c];
    }
  }
  return out;
}

Window whole(int width, int height) {
  return {0, 0, width, height};
}

void require_size(int width, int height, const char* what) {
  require(width > 0 && height > 0, std::string(what) + ": target size must be positive, got " +
                                       std::to_string(width) + "x" + std::to_string(height));
}

}  // namespace

Size2 target_size(Size2 input, const ResizeSpec& spec) {
  require(spec.width > 0, "resize: width must be positive, got " + std::to_string(spec.width));
  require(spec.height >= 0, "resize: height must be >= 0, got " + std::to_string(spec.height));
  require(spec.multiple_of >= 1,
          "resize: multiple_of must be >= 1, got " + std::to_string(spec.multiple_of));
  require(input.width > 0 && input.height > 0, "resize: empty input image");
  if (spec.height > 0) return {spec.width, spec.height};
  const double height = static_cast<double>(input.height) * spec.width / input.width;
  const int multiple = spec.multiple_of;
  const int rounded = static_cast<int>(std::lround(height / multiple)) * multiple;
  return {spec.width, std::max(multiple, rounded)};
}

Camera scale_camera(const Camera& camera, int new_width, int new_height) {
  require_size(new_width, new_height, "scale_camera");
  require(camera.width > 0 && camera.height > 0, "scale_camera: camera has no image size");
  const double sx = static_cast<double>(new_width) / camera.width;
  const double sy = static_cast<double>(new_height) / camera.height;
  Camera out = camera;
  out.width = new_width;
  out.height = new_height;
  out.K[0] = camera.K[0] * sx;
  out.K[1] = camera.K[1] * sx;  // skew scales with x
  out.K[2] = sx * (camera.K[2] + 0.5) - 0.5;
  out.K[4] = camera.K[4] * sy;
  out.K[5] = sy * (camera.K[5] + 0.5) - 0.5;
  return out;
}

Camera crop_camera(const Camera& camera, int x0, int y0, int width, int height) {
  require_size(width, height, "crop_camera");
  Camera out = camera;
  out.width = width;
  out.height = height;
  out.K[2] = camera.K[2] - x0;
  out.K[5] = camera.K[5] - y0;
  return out;
}

ImageU8 resize_bilinear(const ImageU8& image, int width, int height) {
  require_size(width, height, "resize_bilinear");
  if (image.width == width && image.height == height) return image;
  return resize_bilinear_window(image, width, height, whole(width, height));
}

ImageF32 resize_bilinear(const ImageF32& image, int width, int height) {
  require_size(width, height, "resize_bilinear");
  if (image.width == width && image.height == height) return image;
  return resize_bilinear_window(image, width, height, whole(width, height));
}

ImageU8 resize_nearest(const ImageU8& image, int width, int height) {
  require_size(width, height, "resize_nearest");
  return resize_nearest_window(image, width, height, whole(width, height));
}

ImageF32 resize_nearest(const ImageF32& image, int width, int height) {
  require_size(width, height, "resize_nearest");
  return resize_nearest_window(image, width, height, whole(width, height));
}

template <typename T>
Image<T> crop_image(const Image<T>& image, int x0, int y0, int width, int height) {
  require(x0 >= 0 && y0 >= 0 && width > 0 && height > 0 && x0 + width <= image.width &&
              y0 + height <= image.height,
          "crop: window " + std::to_string(width) + "x" + std::to_string(height) + "+" +
              std::to_string(x0) + "+" + std::to_string(y0) + " does not fit a " +
              std::to_string(image.width) + "x" + std::to_string(image.height) + " image");
  Image<T> out(width, height, image.channels, kUninitialised);
  const auto row = static_cast<std::size_t>(width) * image.channels;
  for (int y = 0; y < height; ++y) {
    const auto* src = &image.at(x0, y0 + y);
    std::copy(src, src + row, &out.at(0, y));
  }
  return out;
}

template ImageU8 crop_image(const ImageU8&, int, int, int, int);
template ImageF32 crop_image(const ImageF32&, int, int, int, int);

namespace {

// resize_frame(frame, width, height) cropped to `window`, computing only the window; `rgb_only`
// leaves every map but the RGB image empty.
Frame resize_frame_window(const Frame& frame, int width, int height, const Window& window,
                          bool rgb_only = false) {
  Frame out;
  out.source = frame.source;
  out.camera = scale_camera(frame.camera, width, height);
  if (window.x0 != 0 || window.y0 != 0 || window.width != width || window.height != height)
    out.camera = crop_camera(out.camera, window.x0, window.y0, window.width, window.height);
  if (!frame.rgb.empty()) {
    out.rgb = (frame.rgb.width == width && frame.rgb.height == height)
                  ? crop_image(frame.rgb, window.x0, window.y0, window.width, window.height)
                  : resize_bilinear_window(frame.rgb, width, height, window);
  }
  if (rgb_only) return out;
  const auto nearest = [&](const auto& image) {
    return resize_nearest_window(image, width, height, window);
  };
  if (!frame.depth.empty()) out.depth = nearest(frame.depth);
  if (!frame.valid.empty()) out.valid = nearest(frame.valid);
  if (!frame.confidence.empty()) out.confidence = nearest(frame.confidence);
  if (!frame.object_mask.empty()) out.object_mask = nearest(frame.object_mask);
  return out;
}

}  // namespace

Frame resize_frame(const Frame& frame, int width, int height) {
  return resize_frame_window(frame, width, height, whole(width, height));
}

Frame crop_frame(const Frame& frame, int x0, int y0, int width, int height) {
  Frame out;
  out.source = frame.source;
  out.camera = crop_camera(frame.camera, x0, y0, width, height);
  if (!frame.rgb.empty()) out.rgb = crop_image(frame.rgb, x0, y0, width, height);
  if (!frame.depth.empty()) out.depth = crop_image(frame.depth, x0, y0, width, height);
  if (!frame.valid.empty()) out.valid = crop_image(frame.valid, x0, y0, width, height);
  if (!frame.confidence.empty())
    out.confidence = crop_image(frame.confidence, x0, y0, width, height);
  if (!frame.object_mask.empty())
    out.object_mask = crop_image(frame.object_mask, x0, y0, width, height);
  return out;
}

namespace {

Frame resize_and_center_crop(const Frame& frame, const ResizeSpec& spec, bool rgb_only) {
  const Size2 input{frame.camera.width, frame.camera.height};
  const Size2 target = target_size(input, spec);
  // Cover the target with one common factor; rounding up keeps the scaled image at least as
  // large as the target on both axes.
  const double scale = std::max(static_cast<double>(target.width) / input.width,
                                static_cast<double>(target.height) / input.height);
  const int scaled_width =
      std::max(target.width, static_cast<int>(std::lround(input.width * scale)));
  const int scaled_height =
      std::max(target.height, static_cast<int>(std::lround(input.height * scale)));
  const Window window{(scaled_width - target.width) / 2, (scaled_height - target.height) / 2,
                      target.width, target.height};
  if (scaled_width == input.width && scaled_height == input.height) {  // no resampling
    Frame out = (scaled_width == target.width && scaled_height == target.height)
                    ? frame
                    : crop_frame(frame, window.x0, window.y0, window.width, window.height);
    if (!rgb_only) return out;
    Frame rgb;
    rgb.rgb = std::move(out.rgb);
    rgb.camera = out.camera;
    rgb.source = std::move(out.source);
    return rgb;
  }
  // Resized and cropped in one pass: only the kept window is computed (the same values as
  // resizing the whole frame and cropping it).
  return resize_frame_window(frame, scaled_width, scaled_height, window, rgb_only);
}

}  // namespace

Frame resize_and_center_crop(const Frame& frame, const ResizeSpec& spec) {
  return resize_and_center_crop(frame, spec, false);
}

ImageU8 resize_and_center_crop_rgb(const Frame& frame, const ResizeSpec& spec) {
  return resize_and_center_crop(frame, spec, true).rgb;
}

namespace resize_kernels {

void force_kernels(Kernels kernels) {
  forced_kernels.store(kernels, std::memory_order_relaxed);
}

}  // namespace resize_kernels
}  // namespace vidprobe
