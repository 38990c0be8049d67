// PNG (libdeflate for the common formats, libpng for the rest and for writing) and JPEG (libjpeg)
// codecs. libpng and libjpeg report errors through longjmp; every setjmp below sits in a function
// whose C++ objects were all constructed before the setjmp, and the callbacks between setjmp and
// longjmp hold no objects with destructors, so the jump skips no destructor. After a jump we throw
// vidprobe::Error naming the file.
#include "vidprobe/io/image.h"

#include <jpeglib.h>
// after jpeglib.h, which it needs
#include <jerror.h>
#include <libdeflate.h>
#include <png.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#include <smmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/checksum.h"
#include "vidprobe/io/png_decoders.h"

namespace vidprobe {
namespace fs = std::filesystem;
namespace {

// zlib level 3: about twice as fast as the default 6 for rendered frames, files ~10% larger.
constexpr int kPngCompressionLevel = 3;

struct PngIoState {
  const std::string* bytes = nullptr;  // input for reads
  std::size_t offset = 0;
  std::string* output = nullptr;  // output for writes
  char message[256] = {};
};

void png_error_to_jump(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngIoState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  png_longjmp(png, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}

void png_read_from_memory(png_structp png, png_bytep out, png_size_t length) {
  auto* state = static_cast<PngIoState*>(png_get_io_ptr(png));
  if (state->offset + length > state->bytes->size()) {
    png_error(png, "file is truncated");
  }
  std::memcpy(out, state->bytes->data() + state->offset, length);
  state->offset += length;
}

void png_write_to_memory(png_structp png, png_bytep data, png_size_t length) {
  auto* state = static_cast<PngIoState*>(png_get_io_ptr(png));
  state->output->append(reinterpret_cast<const char*>(data), length);
}

void png_flush_nothing(png_structp) {}

class PngReadHandle {
 public:
  explicit PngReadHandle(PngIoState* state) {
    png_ =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, state, png_error_to_jump, png_ignore_warning);
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngReadHandle() { png_destroy_read_struct(&png_, info_ ? &info_ : nullptr, nullptr); }
  PngReadHandle(const PngReadHandle&) = delete;
  PngReadHandle& operator=(const PngReadHandle&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

class PngWriteHandle {
 public:
  explicit PngWriteHandle(PngIoState* state) {
    png_ = png_create_write_struct(PNG_LIBPNG_VER_STRING, state, png_error_to_jump,
                                   png_ignore_warning);
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngWriteHandle() { png_destroy_write_struct(&png_, info_ ? &info_ : nullptr); }
  PngWriteHandle(const PngWriteHandle&) = delete;
  PngWriteHandle& operator=(const PngWriteHandle&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

std::string quoted(const fs::path& path) {
  return "'" + path.string() + "'";
}

// Dataset frames are a few thousand pixels a side. A header claiming far more is a corrupt or
// hostile file (a few hundred bytes can declare gigabytes of pixels): refused before allocating.
constexpr std::uint64_t kMaxImagePixels = std::uint64_t{1} << 26;  // 8192 x 8192, 8K is 33 M

// `what` names the image (a quoted path) in the error.
void require_readable_size(const std::string& what, std::uint64_t width, std::uint64_t height) {
  require(width * height <= kMaxImagePixels,
          "image " + what + " declares " + std::to_string(width) + " x " + std::to_string(height) +
              " pixels, more than vidprobe reads (" + std::to_string(kMaxImagePixels) +
              "); the file is corrupt or not a video frame");
}

// The file's bytes, its PNG signature checked.
std::string read_png_bytes(const fs::path& path) {
  std::string bytes = read_file(path);
  require(
      bytes.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0,
      "not a PNG file: " + quoted(path));
  return bytes;
}

template <typename T>
Image<T> decode_png_libpng(const std::string& bytes, const fs::path& path) {
  constexpr bool kWant16 = sizeof(T) == 2;
  PngIoState state;
  state.bytes = &bytes;
  PngReadHandle handle(&state);
  require(handle.png() && handle.info(), "libpng could not allocate a reader for " + quoted(path));
  Image<T> image;
  std::vector<png_bytep> rows;
  if (setjmp(png_jmpbuf(handle.png()))) {
    throw Error("corrupt PNG " + quoted(path) + ": " + state.message);
  }
  png_structp png = handle.png();
  png_infop info = handle.info();
  png_set_read_fn(png, &state, png_read_from_memory);
  png_read_info(png, info);
  require_readable_size(quoted(path), png_get_image_width(png, info),
                        png_get_image_height(png, info));
  const int bit_depth = png_get_bit_depth(png, info);
  const int color_type = png_get_color_type(png, info);
  if (kWant16) {
    if (bit_depth != 16) {
      char message[64];
      std::snprintf(message, sizeof message, "expected a 16-bit PNG, found %d-bit", bit_depth);
      png_error(png, message);
    }
    png_set_swap(png);  // PNG stores 16-bit samples big-endian
  } else {
    png_set_expand(png);  // palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha
    if (bit_depth == 16) png_set_scale_16(png);
  }
  if (color_type == PNG_COLOR_TYPE_PALETTE && kWant16) png_error(png, "palette PNG is not 16-bit");
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int width = static_cast<int>(png_get_image_width(png, info));
  const int height = static_cast<int>(png_get_image_height(png, info));
  const int channels = png_get_channels(png, info);
  image = Image<T>(width, height, channels);
  rows.resize(static_cast<std::size_t>(height));
  for (int y = 0; y < height; ++y) {
    rows[y] = reinterpret_cast<png_bytep>(&image.at(0, y, 0));
  }
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  return image;
}

// The libdeflate decoder: libpng spends most of a frame's decode in zlib's inflate and Adler-32,
// which libdeflate does several times faster. It takes the formats datasets write (8- and 16-bit
// gray, gray + alpha, RGB, RGBA, not interlaced, no tRNS) and returns nothing for the rest, which
// libpng decodes. What it returns is what libpng returns for the same file, bit for bit.

using Byte = unsigned char;

struct PngHeader {
  std::uint32_t width = 0, height = 0;
  int bit_depth = 0, channels = 0;
  std::size_t row_bytes = 0;  // one row's samples, without its filter byte
  int pixel_bytes = 0;        // the filters' distance: bytes per pixel
};

constexpr std::size_t kPngSignatureSize = 8, kChunkOverhead = 12;  // length, type, CRC

std::uint32_t load_be32(const Byte* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

[[noreturn]] void corrupt_png(const std::string& what, const std::string& reason) {
  throw Error("corrupt PNG " + what + ": " + reason);
}

struct PngChunk {
  std::string_view type, data;
  bool crc_ok = true;
};

// A critical chunk's type starts with an upper-case letter (PNG's chunk naming rule).
bool is_critical(std::string_view type) {
  return type[0] >= 'A' && type[0] <= 'Z';
}

// The chunk at `offset`, its CRC checked. A critical chunk with a bad CRC is refused, as libpng
// does; an ancillary one is reported (libpng skips it with a warning, so libpng decides).
PngChunk png_chunk_at(std::string_view bytes, std::size_t offset, const std::string& what) {
  if (bytes.size() - offset < kChunkOverhead)
    corrupt_png(what, "file is truncated (no IEND chunk)");
  const auto* p = reinterpret_cast<const Byte*>(bytes.data() + offset);
  const std::size_t length = load_be32(p);
  const std::string_view type = bytes.substr(offset + 4, 4);
  if (length > bytes.size() - offset - kChunkOverhead)
    corrupt_png(what, "file is truncated (chunk " + std::string(type) + " runs past its end)");
  const std::uint32_t stored = load_be32(p + 8 + length);
  const bool crc_ok = crc32_of(bytes.substr(offset + 4, 4 + length)) == stored;
  if (!crc_ok && is_critical(type)) corrupt_png(what, "CRC error in chunk " + std::string(type));
  return {type, bytes.substr(offset + 8, length), crc_ok};
}

// The formats the fast path decodes; T = uint16 reads only 16-bit files (libpng's error otherwise).
std::optional<PngHeader> supported_png_header(const PngChunk& ihdr, bool want16) {
  if (ihdr.type != "IHDR" || ihdr.data.size() != 13) return std::nullopt;
  const auto* p = reinterpret_cast<const Byte*>(ihdr.data.data());
  const int bit_depth = p[8], color_type = p[9];
  static constexpr int kChannels[] = {1, 0, 3, 0, 2, 0, 4};  // by color type; 0: palette, invalid
  const bool plain = color_type <= 6 && kChannels[color_type] != 0 && p[10] == 0 && p[11] == 0 &&
                     p[12] == 0;  // deflate, adaptive filtering, not interlaced
  const bool depth_ok = bit_depth == 16 || (bit_depth == 8 && !want16);
  PngHeader header{load_be32(p), load_be32(p + 4), bit_depth, plain ? kChannels[color_type] : 0};
  // libpng's default limit: larger, libpng refuses.
  constexpr std::uint32_t kMaxDimension = 1000000;
  if (!plain || !depth_ok || header.width == 0 || header.height == 0 ||
      header.width > kMaxDimension || header.height > kMaxDimension)
    return std::nullopt;
  header.pixel_bytes = header.channels * bit_depth / 8;
  header.row_bytes = std::size_t{header.width} * header.pixel_bytes;
  return header;
}

bool is_ascii_letter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Chunks that change the decoded pixels (tRNS adds alpha, acTL makes an APNG) or that libpng may
// refuse (critical chunks other than the image data's, such as a second IHDR or a PLTE, which only
// palette images need; invalid names): libpng decides.
bool png_needs_libpng(std::string_view type) {
  return type == "tRNS" || type == "acTL" ||
         (is_critical(type) && type != "IDAT" && type != "IEND") ||
         !std::all_of(type.begin(), type.end(), is_ascii_letter);
}

// A buffer of at least `size` bytes kept by the calling thread between frames (`kept` is a
// thread_local): a fresh one per frame costs a page fault per 4 kB, a quarter of a 960 x 540
// frame's decode. It only grows, so that an RGB frame after a mask does not zero the difference
// again; a larger one replaces it (its bytes are overwritten by every use, none to copy over). One
// over 64 MiB is not kept past the thread's next use.
Byte* kept_buffer(std::vector<Byte>& kept, std::size_t size) {
  constexpr std::size_t kKeptBytes = std::size_t{64} << 20;
  if (kept.capacity() > kKeptBytes) std::vector<Byte>().swap(kept);
  if (kept.size() < size) kept = std::vector<Byte>(size);
  return kept.data();
}

// The image data: every IDAT's bytes in order, up to IEND; nothing when libpng must decide. A
// single IDAT is returned in place, several are joined in a buffer the thread keeps, valid until
// its next decode (writers split the data into chunks of 8 kB to 1 MB).
std::optional<std::string_view> png_image_data(std::string_view bytes, std::size_t offset,
                                               const std::string& what) {
  std::vector<std::string_view> idats;
  std::size_t size = 0;
  bool after_idat = false;
  for (;;) {
    const PngChunk chunk = png_chunk_at(bytes, offset, what);
    offset += kChunkOverhead + chunk.data.size();
    if (chunk.type == "IEND") break;
    if (!chunk.crc_ok || png_needs_libpng(chunk.type)) return std::nullopt;
    if (chunk.type == "IDAT") {
      if (after_idat) return std::nullopt;  // libpng warns and drops the second run
      idats.push_back(chunk.data);
      size += chunk.data.size();
    } else {
      after_idat = !idats.empty();
    }
  }
  if (idats.size() <= 1) return idats.empty() ? std::nullopt : std::optional(idats.front());
  thread_local std::vector<Byte> joined;
  Byte* const start = kept_buffer(joined, size);
  Byte* out = start;
  for (const auto idat : idats) out = std::copy(idat.begin(), idat.end(), out);
  return std::string_view(reinterpret_cast<const char*>(start), size);
}

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

// One decompressor per thread (a few kB of tables; not safe to share between loader threads).
libdeflate_decompressor* thread_decompressor() {
  thread_local const std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> decompressor(
      libdeflate_alloc_decompressor());
  require(decompressor != nullptr, "libdeflate could not allocate a decompressor");
  return decompressor.get();
}

// The inflated rows, kept by each thread (kept_buffer).
Byte* thread_rows(std::size_t size) {
  thread_local std::vector<Byte> rows;
  return kept_buffer(rows, size);
}

// The filtered rows, exactly `size` bytes; libdeflate checks the zlib header and Adler-32. False
// when the data inflate to more than the image needs: libpng reads such files (it drops the
// excess with a warning), so libpng decides.
bool inflate_png(std::string_view compressed, Byte* out, std::size_t size,
                 const std::string& what) {
  const libdeflate_result result = libdeflate_zlib_decompress(
      thread_decompressor(), compressed.data(), compressed.size(), out, size, nullptr);
  if (result == LIBDEFLATE_INSUFFICIENT_SPACE) return false;
  if (result == LIBDEFLATE_SHORT_OUTPUT) corrupt_png(what, "not enough image data");
  if (result != LIBDEFLATE_SUCCESS) corrupt_png(what, "corrupt zlib data or Adler-32 mismatch");
  return true;
}

// The specification's predictor (a if pa <= pb and pa <= pc, else b if pb <= pc, else c) as two
// selects instead of branches: the predicted byte is data-dependent, so branches mispredict.
Byte paeth(int a, int b, int c) {
  const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
  const int nearer = pb < pa ? b : a, distance = pb < pa ? pb : pa;
  return static_cast<Byte>(pc < distance ? c : nearer);
}

// The four filters' inverses, `in` to `out` (which may be `in`); `prior` is the row above, already
// unfiltered (zeros above the first row), n the bytes per pixel. The first pixel, with nothing to
// its left, is its own loop so that the main loops carry no branch.

#if defined(__SSE2__)
// The vector Sub and Paeth code move pixels as whole 4-byte words (a 3-byte copy takes several
// instructions, or the stack): a 3-byte pixel reads the next pixel's first byte, computes a lane
// that is never used, and writes it, which the next pixel then overwrites. That is why those loops
// stop before a 3-byte row's last pixel, and why they take a row of n-byte pixels only when this
// holds: 4-byte pixels, or 3-byte ones into another buffer (in place, the extra write would land
// on a byte not yet read; 8-bit rows unfilter into the image anyway).
bool word_pixels(std::size_t n, const Byte* in, const Byte* out) {
  return n == 4 || (n == 3 && out != in);
}

// Sub a pixel per step, the pixel to the left kept in a register: the byte loop below stores each
// byte and loads it back n bytes later, so every byte waited on a store-to-load forward (a tenth
// of a PNG frame's decode). N: bytes per pixel (word_pixels). Returns how many bytes it
// unfiltered.
template <std::size_t N>
std::size_t unfilter_sub_pixels(const Byte* in, Byte* out, std::size_t size) {
  __m128i left = _mm_setzero_si128();
  std::size_t i = 0;
  for (; i + 4 <= size; i += N) {
    std::uint32_t word;
    std::memcpy(&word, in + i, 4);
    left = _mm_add_epi8(_mm_cvtsi32_si128(static_cast<int>(word)), left);
    word = static_cast<std::uint32_t>(_mm_cvtsi128_si32(left));
    std::memcpy(out + i, &word, 4);
  }
  return i;
}
#endif

void unfilter_sub(const Byte* in, Byte* out, std::size_t size, std::size_t n) {
  std::size_t i = 0;
#if defined(__SSE2__)
  if (word_pixels(n, in, out))
    i = n == 3 ? unfilter_sub_pixels<3>(in, out, size) : unfilter_sub_pixels<4>(in, out, size);
#endif
  for (; i < n && i < size; ++i) out[i] = in[i];
  for (; i < size; ++i) out[i] = static_cast<Byte>(in[i] + out[i - n]);
}

void unfilter_up(const Byte* in, const Byte* prior, Byte* out, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<Byte>(in[i] + prior[i]);
}

void unfilter_average(const Byte* in, const Byte* prior, Byte* out, std::size_t size,
                      std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Byte>(in[i] + (prior[i] >> 1));
  for (std::size_t i = n; i < size; ++i)
    out[i] = static_cast<Byte>(in[i] + ((out[i - n] + prior[i]) >> 1));
}

// One row's filtered bytes, the row above (unfiltered) and where this one goes.
struct RowPointers {
  const Byte* in;
  const Byte* prior;
  Byte* out;
};

#if defined(__SSE2__)
// Paeth one pixel at a time, its channels side by side in 16-bit lanes: the byte-wise loop carries
// a dependency from each pixel to the next that no compiler vectorises, and 3- and 4-byte pixels
// (RGB, RGBA, 16-bit gray + alpha) are most of a dataset's rows. Only the distances to a (the pixel
// to the left) and the choice wait on the previous pixel; what the row above (b, c) and the
// filtered bytes fix is worked out beside that chain, which is what bounds the loop. Pixels move
// as whole 4-byte words (word_pixels).
__m128i load_word(const Byte* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return _mm_unpacklo_epi8(_mm_cvtsi32_si128(static_cast<int>(v)), _mm_setzero_si128());
}

void store_word(Byte* p, __m128i lanes) {
  const auto v = static_cast<std::uint32_t>(_mm_cvtsi128_si32(_mm_packus_epi16(lanes, lanes)));
  std::memcpy(p, &v, 4);
}

__m128i abs_epi16(__m128i x) {
  return _mm_max_epi16(x, _mm_sub_epi16(_mm_setzero_si128(), x));
}

__m128i select(__m128i mask, __m128i yes, __m128i no) {
  return _mm_or_si128(_mm_and_si128(mask, yes), _mm_andnot_si128(mask, no));
}

// One pixel's inputs that do not depend on a. pb = |a - c| and pc = |a + (b - 2c)| are then one
// operation from a each, and the candidates b and c carry the filtered bytes already added (mod 256
// in each lane's low byte), so that the chain through a ends on its select.
struct PaethPixel {
  __m128i b, c, b_minus_c, b_minus_2c, filtered, from_b, from_c;
};

PaethPixel paeth_inputs(__m128i b, __m128i c, __m128i filtered) {
  const __m128i b_minus_c = _mm_sub_epi16(b, c);
  return {b,
          c,
          b_minus_c,
          _mm_sub_epi16(b_minus_c, c),
          filtered,
          _mm_add_epi8(filtered, b),
          _mm_add_epi8(filtered, c)};
}

PaethPixel paeth_pixel(const Byte* in, const Byte* prior, __m128i c) {
  return paeth_inputs(load_word(prior), c, load_word(in));
}

// The specification's choice as the scalar paeth() makes it: c if pc is below both other
// distances, else b if pb < pa, else a.
__m128i paeth_choice_sse2(const PaethPixel& p, __m128i a) {
  const __m128i pa = abs_epi16(p.b_minus_c), pb = abs_epi16(_mm_sub_epi16(a, p.c));
  const __m128i pc = abs_epi16(_mm_add_epi16(a, p.b_minus_2c));
  const __m128i take_b = _mm_cmpgt_epi16(pa, pb);
  const __m128i take_c = _mm_cmpgt_epi16(_mm_min_epi16(pa, pb), pc);
  return select(take_c, p.from_c, select(take_b, p.from_b, _mm_add_epi8(p.filtered, a)));
}

// One row, a pixel per step, with `Choose` (paeth_choice_sse2 or paeth_choice_sse41). N: bytes
// per pixel. Returns how many bytes it unfiltered. Always inlined, so that it is compiled for the
// target of its caller, into which the SSE4.1 choice can then be inlined too.
using PaethChoice = __m128i (*)(const PaethPixel&, __m128i);
template <std::size_t N, PaethChoice Choose>
[[gnu::always_inline]] inline std::size_t unfilter_paeth_pixels(const Byte* in, const Byte* prior,
                                                                Byte* out, std::size_t size) {
  __m128i a = _mm_setzero_si128(), c = _mm_setzero_si128();
  std::size_t i = 0;
  for (; i + 4 <= size; i += N) {
    const PaethPixel p = paeth_pixel(in + i, prior + i, c);
    a = Choose(p, a);
    store_word(out + i, a);
    c = p.b;
  }
  return i;
}

template <std::size_t N>
std::size_t unfilter_paeth_sse2(const Byte* in, const Byte* prior, Byte* out, std::size_t size) {
  return unfilter_paeth_pixels<N, paeth_choice_sse2>(in, prior, out, size);
}

#if defined(__GNUC__)
#define VIDPROBE_PAETH_SSE41 1
// The same choice with SSSE3's abs and SSE4.1's blend, one instruction each where SSE2 takes two
// or three. The build targets baseline x86-64, so these are compiled for SSE4.1 alone and taken
// after a run-time check.
__attribute__((target("ssse3,sse4.1"))) __m128i paeth_choice_sse41(const PaethPixel& p, __m128i a) {
  const __m128i pa = _mm_abs_epi16(p.b_minus_c), pb = _mm_abs_epi16(_mm_sub_epi16(a, p.c));
  const __m128i pc = _mm_abs_epi16(_mm_add_epi16(a, p.b_minus_2c));
  const __m128i take_b = _mm_cmpgt_epi16(pa, pb);
  const __m128i take_c = _mm_cmpgt_epi16(_mm_min_epi16(pa, pb), pc);
  return _mm_blendv_epi8(_mm_blendv_epi8(_mm_add_epi8(p.filtered, a), p.from_b, take_b), p.from_c,
                         take_c);
}

template <std::size_t N>
__attribute__((target("ssse3,sse4.1"))) std::size_t unfilter_paeth_sse41(const Byte* in,
                                                                         const Byte* prior,
                                                                         Byte* out,
                                                                         std::size_t size) {
  return unfilter_paeth_pixels<N, paeth_choice_sse41>(in, prior, out, size);
}

// Two rows, both Paeth, at once: row 1 runs two pixels behind row 0, and the two chains share
// each instruction (row 0 in lanes 0-3, row 1 in lanes 4-7). Row 1's b is row 0's result of two
// steps before, taken from a register: read back from memory it would straddle two 4-byte stores,
// which the store buffer cannot forward. Row 1 starts on zeros, which leave its a and c at zero,
// as its first pixel needs them.
__m128i load_words(const Byte* low, const Byte* high) {
  std::uint32_t l, h;
  std::memcpy(&l, low, 4);
  std::memcpy(&h, high, 4);
  const __m128i both = _mm_unpacklo_epi32(_mm_cvtsi32_si128(static_cast<int>(l)),
                                          _mm_cvtsi32_si128(static_cast<int>(h)));
  return _mm_unpacklo_epi8(both, _mm_setzero_si128());
}

void store_words(Byte* low, Byte* high, __m128i lanes) {
  const __m128i bytes = _mm_packus_epi16(lanes, lanes);
  const auto l = static_cast<std::uint32_t>(_mm_cvtsi128_si32(bytes));
  const auto h = static_cast<std::uint32_t>(_mm_cvtsi128_si32(_mm_srli_si128(bytes, 4)));
  std::memcpy(low, &l, 4);
  std::memcpy(high, &h, 4);
}

struct PairState {
  __m128i a, previous_a, c;  // previous_a: the step before a's
};

// Row 0 at byte i, row 1 at in1 / out1.
[[gnu::always_inline]] inline __attribute__((target("ssse3,sse4.1"))) void paeth_pair_step_sse41(
    const RowPointers& r0, std::size_t i, const Byte* in1, Byte* out1, PairState& s) {
  const __m128i b = _mm_unpacklo_epi64(load_word(r0.prior + i), s.previous_a);
  const PaethPixel p = paeth_inputs(b, s.c, load_words(r0.in + i, in1));
  s.previous_a = s.a;
  s.a = paeth_choice_sse41(p, s.a);
  store_words(r0.out + i, out1, s.a);
  s.c = b;
}

// Returns how many bytes of row 0 it unfiltered; row 1 is 2N bytes behind.
template <std::size_t N>
__attribute__((target("ssse3,sse4.1"))) std::size_t unfilter_paeth_pair_sse41(const RowPointers r0,
                                                                              const Byte* const in1,
                                                                              Byte* const out1,
                                                                              std::size_t size) {
  const Byte zeros[4] = {};
  Byte ignored[4];
  PairState s{_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
  std::size_t i = 0;
  for (; i < 2 * N && i + 4 <= size; i += N) paeth_pair_step_sse41(r0, i, zeros, ignored, s);
  for (; i + 4 <= size; i += N) paeth_pair_step_sse41(r0, i, in1 + i - 2 * N, out1 + i - 2 * N, s);
  return i;
}

// Set by png_decoders::force_sse2_paeth, so that the tests reach the fallback on any machine.
std::atomic<bool> sse2_paeth_forced{false};

bool sse41_paeth() {
  static const bool supported = __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("sse4.1");
  return supported && !sse2_paeth_forced.load(std::memory_order_relaxed);
}
#endif

// Returns how many bytes it unfiltered, from the row's start: 0 where it does not apply.
std::size_t unfilter_paeth_simd(const Byte* in, const Byte* prior, Byte* out, std::size_t size,
                                std::size_t n) {
  if (!word_pixels(n, in, out)) return 0;
#if defined(VIDPROBE_PAETH_SSE41)
  if (sse41_paeth())
    return n == 3 ? unfilter_paeth_sse41<3>(in, prior, out, size)
                  : unfilter_paeth_sse41<4>(in, prior, out, size);
#endif
  return n == 3 ? unfilter_paeth_sse2<3>(in, prior, out, size)
                : unfilter_paeth_sse2<4>(in, prior, out, size);
}
#endif

// From byte `from` on: the bytes before it are already unfiltered.
void unfilter_paeth_scalar(const RowPointers& row, std::size_t size, std::size_t n,
                           std::size_t from) {
  std::size_t i = from;
  for (; i < n; ++i) row.out[i] = static_cast<Byte>(row.in[i] + row.prior[i]);
  for (; i < size; ++i)
    row.out[i] =
        static_cast<Byte>(row.in[i] + paeth(row.out[i - n], row.prior[i], row.prior[i - n]));
}

void unfilter_paeth(const Byte* in, const Byte* prior, Byte* out, std::size_t size, std::size_t n) {
  std::size_t i = 0;
#if defined(__SSE2__)
  i = unfilter_paeth_simd(in, prior, out, size, n);
#endif
  unfilter_paeth_scalar({in, prior, out}, size, n, i);
}

// Two rows, both Paeth; r1.prior is r0.out.
void unfilter_paeth_pair(const RowPointers& r0, const RowPointers& r1, std::size_t size,
                         std::size_t n) {
#if defined(VIDPROBE_PAETH_SSE41)
  if (sse41_paeth() && word_pixels(n, r0.in, r0.out) && word_pixels(n, r1.in, r1.out)) {
    const std::size_t i = n == 3 ? unfilter_paeth_pair_sse41<3>(r0, r1.in, r1.out, size)
                                 : unfilter_paeth_pair_sse41<4>(r0, r1.in, r1.out, size);
    unfilter_paeth_scalar(r0, size, n, i);
    return unfilter_paeth_scalar(r1, size, n, i > 2 * n ? i - 2 * n : 0);
  }
#endif
  unfilter_paeth(r0.in, r0.prior, r0.out, size, n);
  unfilter_paeth(r1.in, r1.prior, r1.out, size, n);
}

// Reverses one row's filter (0..4; the caller refuses others).
void unfilter_row(int filter, const Byte* in, const Byte* prior, Byte* out, std::size_t size,
                  std::size_t n) {
  switch (filter) {
    case 0:
      if (out != in) std::memcpy(out, in, size);
      return;
    case 1:
      return unfilter_sub(in, out, size, n);
    case 2:
      return unfilter_up(in, prior, out, size);
    case 3:
      return unfilter_average(in, prior, out, size, n);
    default:
      return unfilter_paeth(in, prior, out, size, n);
  }
}

// 16-bit samples (big-endian in the file) as T: native uint16 (png_set_swap), or 8 bits rounded
// exactly as png_set_scale_16 does.
template <typename T>
void store_16bit_row(const Byte* row, std::size_t samples, T* out) {
  for (std::size_t i = 0; i < samples; ++i) {
    const int high = row[2 * i], low = row[2 * i + 1];
    if constexpr (sizeof(T) == 2) {
      out[i] = static_cast<T>(high << 8 | low);
    } else {
      out[i] = static_cast<T>(high + (((low - high + 128) * 65535) >> 24));
    }
  }
}

template <typename T>
Image<T> unfilter_png(const PngHeader& header, Byte* rows, const std::string& what) {
  Image<T> image(static_cast<int>(header.width), static_cast<int>(header.height), header.channels,
                 kUninitialised);  // every row is written below, or the decode throws
  const std::size_t stride = header.row_bytes + 1;
  const bool direct = header.bit_depth == 8;  // rows unfilter straight into the image
  const std::vector<Byte> zeros(header.row_bytes);
  const Byte* prior = zeros.data();
  const auto target = [&](std::size_t y) {
    return direct ? reinterpret_cast<Byte*>(&image.at(0, static_cast<int>(y), 0))
                  : rows + y * stride + 1;
  };
  bool done = false;  // row y was unfiltered together with row y - 1
  for (std::size_t y = 0; y < header.height; ++y) {
    Byte* row = rows + y * stride;
    if (row[0] > 4)
      corrupt_png(what,
                  "bad filter type " + std::to_string(row[0]) + " in row " + std::to_string(y));
    const bool pair = !done && row[0] == 4 && y + 1 < header.height && row[stride] == 4;
    if (pair) {
      unfilter_paeth_pair({row + 1, prior, target(y)}, {row + stride + 1, target(y), target(y + 1)},
                          header.row_bytes, header.pixel_bytes);
    } else if (!done) {
      unfilter_row(row[0], row + 1, prior, target(y), header.row_bytes, header.pixel_bytes);
    }
    done = pair;
    if (!direct)
      store_16bit_row(row + 1, header.row_bytes / 2, &image.at(0, static_cast<int>(y), 0));
    prior = target(y);
  }
  return image;
}

template <typename T>
std::optional<Image<T>> decode_png_libdeflate(std::string_view bytes, const std::string& what) {
  const PngChunk ihdr = png_chunk_at(bytes, kPngSignatureSize, what);
  const auto header = supported_png_header(ihdr, sizeof(T) == 2);
  if (!header) return std::nullopt;
  require_readable_size(what, header->width, header->height);
  const auto data = png_image_data(bytes, kPngSignatureSize + kChunkOverhead + 13, what);
  if (!data) return std::nullopt;
  const std::size_t size = header->height * (header->row_bytes + 1);
  Byte* const rows = thread_rows(size);
  if (!inflate_png(*data, rows, size, what)) return std::nullopt;
  return unfilter_png<T>(*header, rows, what);
}

// Decodes a PNG into Image<T>; T = uint8 expands/reduces everything to 8 bits, T = uint16 requires
// a 16-bit file. Channel count is kept (gray 1, gray+alpha 2, RGB 3, RGBA 4). `decoder` (if not
// null) says which decoder did it.
template <typename T>
Image<T> decode_png(const fs::path& path, png_decoders::PngDecoder* decoder = nullptr) {
  const std::string bytes = read_png_bytes(path);
  auto fast = decode_png_libdeflate<T>(bytes, quoted(path));
  if (decoder)
    *decoder = fast ? png_decoders::PngDecoder::kLibdeflate : png_decoders::PngDecoder::kLibpng;
  return fast ? std::move(*fast) : decode_png_libpng<T>(bytes, path);
}

template <typename T>
void encode_png(const fs::path& path, const Image<T>& image) {
  constexpr int kBitDepth = sizeof(T) == 2 ? 16 : 8;
  require(image.width > 0 && image.height > 0, "cannot write empty image to " + quoted(path));
  require(image.channels >= 1 && image.channels <= 4,
          "cannot write a " + std::to_string(image.channels) + "-channel PNG to " + quoted(path));
  require(
      image.pixels.size() == static_cast<std::size_t>(image.width) * image.height * image.channels,
      "image buffer size does not match its shape for " + quoted(path));
  static constexpr int kColorTypes[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                        PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  std::string encoded;
  PngIoState state;
  state.output = &encoded;
  PngWriteHandle handle(&state);
  require(handle.png() && handle.info(), "libpng could not allocate a writer for " + quoted(path));
  std::vector<png_bytep> rows(static_cast<std::size_t>(image.height));
  for (int y = 0; y < image.height; ++y) {
    rows[y] = reinterpret_cast<png_bytep>(const_cast<T*>(&image.at(0, y, 0)));
  }
  if (setjmp(png_jmpbuf(handle.png()))) {
    throw Error("cannot encode PNG " + quoted(path) + ": " + state.message);
  }
  png_structp png = handle.png();
  png_infop info = handle.info();
  png_set_write_fn(png, &state, png_write_to_memory, png_flush_nothing);
  png_set_compression_level(png, kPngCompressionLevel);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width),
               static_cast<png_uint_32>(image.height), kBitDepth, kColorTypes[image.channels - 1],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  if (kBitDepth == 16) png_set_swap(png);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  write_file_atomically(path, encoded);
}

struct JpegErrorState {
  jpeg_error_mgr manager;  // first member: libjpeg passes a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
};

void jpeg_error_to_jump(j_common_ptr info) {
  auto* state = reinterpret_cast<JpegErrorState*>(info->err);
  info->err->format_message(info, state->message);
  std::longjmp(state->jump, 1);
}

// Warnings are ignored (cameras write benign ones, e.g. extraneous bytes before a marker) except
// the end of the data before the last scanline: libjpeg would fill the rest of the frame with
// gray and return it as if it were whole.
void jpeg_truncation_is_an_error(j_common_ptr info, int level) {
  if (level == -1 && info->err->msg_code == JWRN_JPEG_EOF) jpeg_error_to_jump(info);
}

class JpegDecompressHandle {
 public:
  explicit JpegDecompressHandle(JpegErrorState* errors) {
    info_.err = jpeg_std_error(&errors->manager);
    errors->manager.error_exit = jpeg_error_to_jump;
    errors->manager.emit_message = jpeg_truncation_is_an_error;
  }
  // Called once setjmp is armed: jpeg_create_decompress can itself fail.
  void create() {
    jpeg_create_decompress(&info_);
    created_ = true;
  }
  ~JpegDecompressHandle() {
    if (created_) jpeg_destroy_decompress(&info_);
  }
  JpegDecompressHandle(const JpegDecompressHandle&) = delete;
  JpegDecompressHandle& operator=(const JpegDecompressHandle&) = delete;
  jpeg_decompress_struct* get() { return &info_; }

 private:
  jpeg_decompress_struct info_{};
  bool created_ = false;
};

class JpegCompressHandle {
 public:
  explicit JpegCompressHandle(JpegErrorState* errors) {
    info_.err = jpeg_std_error(&errors->manager);
    errors->manager.error_exit = jpeg_error_to_jump;
  }
  // Called once setjmp is armed: jpeg_create_compress can itself fail.
  void create() {
    jpeg_create_compress(&info_);
    created_ = true;
  }
  ~JpegCompressHandle() {
    if (created_) jpeg_destroy_compress(&info_);
  }
  JpegCompressHandle(const JpegCompressHandle&) = delete;
  JpegCompressHandle& operator=(const JpegCompressHandle&) = delete;
  jpeg_compress_struct* get() { return &info_; }

 private:
  jpeg_compress_struct info_{};
  bool created_ = false;
};

// A libjpeg destination that appends to a string through a fixed buffer (jpeg_mem_dest would
// leak its own buffer when an error jumps out mid-image).
struct JpegStringDestination {
  jpeg_destination_mgr manager;  // first member: libjpeg passes a pointer to it
  std::string* output = nullptr;
  std::array<JOCTET, 16384> buffer{};
};

JpegStringDestination* string_destination(j_compress_ptr info) {
  return reinterpret_cast<JpegStringDestination*>(info->dest);
}

void jpeg_destination_reset(j_compress_ptr info) {
  auto* destination = string_destination(info);
  destination->manager.next_output_byte = destination->buffer.data();
  destination->manager.free_in_buffer = destination->buffer.size();
}

boolean jpeg_destination_flush_full(j_compress_ptr info) {
  auto* destination = string_destination(info);
  destination->output->append(reinterpret_cast<const char*>(destination->buffer.data()),
                              destination->buffer.size());
  jpeg_destination_reset(info);
  return TRUE;
}

void jpeg_destination_flush_rest(j_compress_ptr info) {
  auto* destination = string_destination(info);
  destination->output->append(reinterpret_cast<const char*>(destination->buffer.data()),
                              destination->buffer.size() - destination->manager.free_in_buffer);
}

void attach_string_destination(jpeg_compress_struct* info, JpegStringDestination* destination) {
  destination->manager.init_destination = jpeg_destination_reset;
  destination->manager.empty_output_buffer = jpeg_destination_flush_full;
  destination->manager.term_destination = jpeg_destination_flush_rest;
  info->dest = &destination->manager;
}

// Luma sampling factors against chroma's 1 x 1 (jpeg_set_defaults sets 2 x 2, i.e. 4:2:0).
void set_chroma_sampling(jpeg_compress_struct* info, JpegChroma chroma) {
  const int horizontal = chroma == JpegChroma::k444 ? 1 : 2;
  const int vertical = chroma == JpegChroma::k420 ? 2 : 1;
  info->comp_info[0].h_samp_factor = horizontal;
  info->comp_info[0].v_samp_factor = vertical;
}

void require_encodable(const ImageU8& image, const JpegEncodeOptions& options) {
  require(image.width > 0 && image.height > 0, "encode_jpeg: the image is empty");
  require(
      image.channels == 1 || image.channels == 3,
      "encode_jpeg: JPEG holds gray or RGB, got " + std::to_string(image.channels) + " channels");
  require(
      image.pixels.size() == static_cast<std::size_t>(image.width) * image.height * image.channels,
      "encode_jpeg: the pixel buffer does not match the image's shape");
  require(options.quality >= 1 && options.quality <= 100,
          "encode_jpeg: quality must be in [1, 100], got " + std::to_string(options.quality));
}

// Decodes a whole JPEG file held in memory; `what` names it in errors.
ImageU8 decode_jpeg_bytes(std::string_view bytes, const std::string& what) {
  require(bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
              static_cast<unsigned char>(bytes[1]) == 0xD8,
          "not a JPEG file: " + what);
  JpegErrorState errors;
  JpegDecompressHandle handle(&errors);
  ImageU8 image;
  if (setjmp(errors.jump)) {
    throw Error("corrupt JPEG " + what + ": " + errors.message);
  }
  handle.create();
  jpeg_decompress_struct* info = handle.get();
  jpeg_mem_src(info, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(info, TRUE);
  require_readable_size(what, info->image_width, info->image_height);
  if (info->jpeg_color_space == JCS_CMYK || info->jpeg_color_space == JCS_YCCK) {
    std::snprintf(errors.message, sizeof errors.message, "CMYK JPEGs are not supported");
    std::longjmp(errors.jump, 1);
  }
  info->out_color_space = info->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  // libjpeg's defaults, set so that they stay these: the pixels cv2.imread and Pillow decode.
  info->dct_method = JDCT_ISLOW;
  info->do_fancy_upsampling = TRUE;
  jpeg_start_decompress(info);
  image = ImageU8(static_cast<int>(info->output_width), static_cast<int>(info->output_height),
                  info->output_components, kUninitialised);  // every scanline is read below
  while (info->output_scanline < info->output_height) {
    JSAMPROW row = &image.at(0, static_cast<int>(info->output_scanline), 0);
    jpeg_read_scanlines(info, &row, 1);
  }
  jpeg_finish_decompress(info);
  return image;
}

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

ImageU8 read_png_u8(const fs::path& path) {
  return decode_png<std::uint8_t>(path);
}
ImageU16 read_png_u16(const fs::path& path) {
  return decode_png<std::uint16_t>(path);
}

namespace png_decoders {
ImageU8 read_png_u8(const fs::path& path, PngDecoder* decoder) {
  return decode_png<std::uint8_t>(path, decoder);
}
ImageU16 read_png_u16(const fs::path& path, PngDecoder* decoder) {
  return decode_png<std::uint16_t>(path, decoder);
}
ImageU8 read_png_u8_libpng(const fs::path& path) {
  return decode_png_libpng<std::uint8_t>(read_png_bytes(path), path);
}
ImageU16 read_png_u16_libpng(const fs::path& path) {
  return decode_png_libpng<std::uint16_t>(read_png_bytes(path), path);
}
void force_sse2_paeth(bool forced) {
#if defined(VIDPROBE_PAETH_SSE41)
  sse2_paeth_forced.store(forced, std::memory_order_relaxed);
#else
  (void)forced;
#endif
}
}  // namespace png_decoders
void write_png(const fs::path& path, const ImageU8& image) {
  encode_png(path, image);
}
void write_png(const fs::path& path, const ImageU16& image) {
  encode_png(path, image);
}

ImageU8 read_jpeg(const fs::path& path) {
  return decode_jpeg_bytes(read_file(path), quoted(path));
}

ImageU8 decode_jpeg(std::string_view bytes) {
  return decode_jpeg_bytes(bytes, "(in-memory)");
}

std::string encode_jpeg(const ImageU8& image, const JpegEncodeOptions& options) {
  require_encodable(image, options);
  std::string encoded;
  JpegStringDestination destination;
  destination.output = &encoded;
  JpegErrorState errors;
  JpegCompressHandle handle(&errors);
  if (setjmp(errors.jump)) {
    throw Error(std::string("encode_jpeg: ") + errors.message);
  }
  handle.create();
  jpeg_compress_struct* info = handle.get();
  attach_string_destination(info, &destination);
  info->image_width = static_cast<JDIMENSION>(image.width);
  info->image_height = static_cast<JDIMENSION>(image.height);
  info->input_components = image.channels;
  info->in_color_space = image.channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(info);  // YCbCr 4:2:0, JDCT_ISLOW, standard Huffman tables, sequential
  jpeg_set_quality(info, options.quality, TRUE);  // TRUE: tables capped at baseline values
  if (image.channels == 3) set_chroma_sampling(info, options.chroma);
  jpeg_start_compress(info, TRUE);
  while (info->next_scanline < info->image_height) {
    auto* row = const_cast<JSAMPLE*>(&image.at(0, static_cast<int>(info->next_scanline), 0));
    jpeg_write_scanlines(info, &row, 1);
  }
  jpeg_finish_compress(info);
  return encoded;
}

ImageU8 jpeg_round_trip(const ImageU8& image, const JpegEncodeOptions& options) {
  return decode_jpeg(encode_jpeg(image, options));
}

ImageU8 read_rgb(const fs::path& path) {
  const std::string ext = lower_extension(path);
  ImageU8 source;
  if (ext == ".png") {
    source = read_png_u8(path);
  } else if (ext == ".jpg" || ext == ".jpeg") {
    source = read_jpeg(path);
  } else {
    throw Error("unsupported image extension '" + ext + "' for " + quoted(path) +
                " (expected .png, .jpg or .jpeg)");
  }
  if (source.channels == 3) return source;
  // Gray is replicated; alpha is dropped (datasets' RGBA frames are opaque).
  ImageU8 rgb(source.width, source.height, 3, kUninitialised);
  const bool gray = source.channels <= 2;
  for (int y = 0; y < source.height; ++y) {
    for (int x = 0; x < source.width; ++x) {
      for (int c = 0; c < 3; ++c) rgb.at(x, y, c) = source.at(x, y, gray ? 0 : c);
    }
  }
  return rgb;
}

}  // namespace vidprobe
