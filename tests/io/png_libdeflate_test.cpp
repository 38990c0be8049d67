// The libdeflate PNG decoder (io/image.cpp) against libpng: the same pixels for every format it
// takes, libpng for the others, and damaged files refused with the file named. The files are
// written by libpng's own encoder, each filter forced in turn, so that every filter's inverse and
// libpng's chunk layouts (several IDATs, text chunks before and after them) are exercised.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libdeflate.h>
#include <png.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/io/image.h"
#include "vidprobe/io/png_decoders.h"

namespace vidprobe::png_libdeflate_test {
namespace fs = std::filesystem;
using png_decoders::PngDecoder;
using ::testing::AllOf;
using ::testing::HasSubstr;

struct PngWriteOptions {
  int color_type = PNG_COLOR_TYPE_RGB;
  int bit_depth = 8;
  int filters = PNG_ALL_FILTERS;  // png_set_filter's mask
  int compression_level = 6;      // 0: stored blocks
  std::size_t idat_bytes = 8192;  // libpng's largest IDAT chunk
  bool text_before_idat = false, text_after_idat = false;
  bool palette = false, transparency = false;
  int interlace = PNG_INTERLACE_NONE;
};

void pngtest_append(png_structp png, png_bytep data, png_size_t length) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<char*>(data), length);
}

void pngtest_add_text(png_structp png, png_infop info, const char* key) {
  png_text text{};
  text.compression = PNG_TEXT_COMPRESSION_NONE;
  text.key = const_cast<char*>(key);
  text.text = const_cast<char*>("vidprobe test");
  png_set_text(png, info, &text, 1);
}

void pngtest_set_extras(png_structp png, png_infop info, const PngWriteOptions& options) {
  if (options.palette) {
    std::vector<png_color> colors(256);
    for (int i = 0; i < 256; ++i)
      colors[i] = {static_cast<png_byte>(i), static_cast<png_byte>(255 - i),
                   static_cast<png_byte>(i * 7)};
    png_set_PLTE(png, info, colors.data(), 256);
  }
  if (options.transparency) {
    png_color_16 color{};
    color.red = color.green = color.blue = color.gray = 3;
    png_set_tRNS(png, info, nullptr, 0, &color);
  }
  if (options.text_before_idat) pngtest_add_text(png, info, "Before");
}

// A PNG file from rows of samples in file order (16-bit samples big-endian), written by libpng.
std::string pngtest_encode(const std::vector<png_byte>& samples, int width, int height,
                           const PngWriteOptions& options) {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  const std::size_t row_bytes = samples.size() / height;
  std::vector<png_bytep> rows(height);
  for (int y = 0; y < height; ++y) rows[y] = const_cast<png_bytep>(&samples[y * row_bytes]);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error("libpng could not write the test image");
  }
  png_set_write_fn(png, &out, pngtest_append, nullptr);
  png_set_filter(png, 0, options.filters);
  png_set_compression_level(png, options.compression_level);
  png_set_compression_buffer_size(png, options.idat_bytes);
  png_set_IHDR(png, info, width, height, options.bit_depth, options.color_type, options.interlace,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  pngtest_set_extras(png, info, options);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  if (options.text_after_idat) pngtest_add_text(png, info, "After");
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

int pngtest_channels(int color_type) {
  return color_type == PNG_COLOR_TYPE_GRAY         ? 1
         : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
         : color_type == PNG_COLOR_TYPE_RGB        ? 3
         : color_type == PNG_COLOR_TYPE_RGB_ALPHA  ? 4
                                                   : 1;
}

// Smooth rows (which the filters predict) alternating with noise (which they do not).
std::vector<png_byte> pngtest_samples(int width, int height, int bytes_per_pixel,
                                      std::mt19937& rng) {
  std::vector<png_byte> samples(static_cast<std::size_t>(width) * height * bytes_per_pixel);
  const std::size_t row = samples.size() / height;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::size_t y = i / row, x = i % row;
    samples[i] = static_cast<png_byte>(y % 2 ? rng() : x * 3 + y * 5 + rng() % 4);
  }
  return samples;
}

class PngLibdeflateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_support::fresh_temp_dir(
        std::string("png_libdeflate_") +
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, std::string_view bytes) {
    write_file_atomically(dir_ / name, bytes);
    return dir_ / name;
  }
  // Both decoders, every T the file can be read as; the fast one must have taken it.
  void expect_same_pixels(const fs::path& path, bool sixteen_bit) {
    PngDecoder decoder = PngDecoder::kLibpng;
    const ImageU8 fast = png_decoders::read_png_u8(path, &decoder);
    EXPECT_EQ(decoder, PngDecoder::kLibdeflate) << path;
    const ImageU8 slow = png_decoders::read_png_u8_libpng(path);
    EXPECT_EQ(fast.pixels, slow.pixels) << path;
    EXPECT_EQ(std::tie(fast.width, fast.height, fast.channels),
              std::tie(slow.width, slow.height, slow.channels));
    if (!sixteen_bit) return;
    decoder = PngDecoder::kLibpng;
    const ImageU16 fast16 = png_decoders::read_png_u16(path, &decoder);
    EXPECT_EQ(decoder, PngDecoder::kLibdeflate) << path;
    EXPECT_EQ(fast16.pixels, png_decoders::read_png_u16_libpng(path).pixels) << path;
  }
  fs::path dir_;
};

TEST_F(PngLibdeflateTest, EveryFormatFilterAndLayoutDecodesAsLibpngDoes) {
  std::mt19937 rng(14);
  const int kFilters[] = {PNG_FILTER_NONE, PNG_FILTER_SUB,   PNG_FILTER_UP,
                          PNG_FILTER_AVG,  PNG_FILTER_PAETH, PNG_ALL_FILTERS};
  int file = 0;
  for (const int color_type : {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                               PNG_COLOR_TYPE_RGB_ALPHA})
    for (const int bit_depth : {8, 16})
      for (const int width : {1, 2, 3, 7, 64})
        for (const int height : {1, 3, 9})
          for (const int filters : kFilters) {
            PngWriteOptions options;
            options.color_type = color_type;
            options.bit_depth = bit_depth;
            options.filters = filters;
            options.idat_bytes = file % 2 ? 37 : 8192;  // odd: several IDAT chunks
            options.text_before_idat = file % 3 == 0;
            options.text_after_idat = file % 3 == 1;
            options.compression_level = file % 5 == 0 ? 0 : 6;
            const int pixel_bytes = pngtest_channels(color_type) * bit_depth / 8;
            const auto samples = pngtest_samples(width, height, pixel_bytes, rng);
            const auto path = write("f" + std::to_string(file++) + ".png",
                                    pngtest_encode(samples, width, height, options));
            expect_same_pixels(path, bit_depth == 16);
          }
}

// Paeth on 3- and 4-byte pixels, which take SIMD code, through both the path this CPU takes and
// the SSE2 fallback; 9 rows, so that rows go both in pairs and alone. Half the files draw their
// bytes from a few values near 0, 128 and 255, so that the three distances often tie and the sums
// wrap.
TEST_F(PngLibdeflateTest, PaethOnEveryPathDecodesAsLibpngDoes) {
  struct Restore {
    ~Restore() { png_decoders::force_sse2_paeth(false); }
  } restore;
  const int kFormats[][2] = {
      {PNG_COLOR_TYPE_RGB, 8}, {PNG_COLOR_TYPE_RGB_ALPHA, 8}, {PNG_COLOR_TYPE_GRAY_ALPHA, 16}};
  const png_byte kFew[] = {0, 1, 2, 127, 128, 129, 253, 254, 255};
  std::mt19937 rng(15);
  int file = 0;
  for (const bool sse2 : {false, true}) {
    png_decoders::force_sse2_paeth(sse2);
    for (const auto& [color_type, bit_depth] : kFormats)
      for (const int width : {1, 2, 3, 4, 5, 17, 64})
        for (const bool few : {false, true}) {
          PngWriteOptions options;
          options.color_type = color_type;
          options.bit_depth = bit_depth;
          options.filters = PNG_FILTER_PAETH;
          const int pixel_bytes = pngtest_channels(color_type) * bit_depth / 8;
          auto samples = pngtest_samples(width, 9, pixel_bytes, rng);
          if (few)
            for (auto& sample : samples) sample = kFew[rng() % std::size(kFew)];
          const auto path = write("p" + std::to_string(file++) + ".png",
                                  pngtest_encode(samples, width, 9, options));
          expect_same_pixels(path, bit_depth == 16);
        }
  }
}

// png_set_scale_16's rounding, for every 16-bit value (each value's own row: every filter sees it).
TEST_F(PngLibdeflateTest, SixteenBitToEightRoundsAsLibpngForEveryValue) {
  std::vector<png_byte> samples(2 * 65536);
  for (int v = 0; v < 65536; ++v) {
    samples[2 * v] = static_cast<png_byte>(v >> 8);
    samples[2 * v + 1] = static_cast<png_byte>(v & 0xff);
  }
  PngWriteOptions options;
  options.color_type = PNG_COLOR_TYPE_GRAY;
  options.bit_depth = 16;
  expect_same_pixels(write("all.png", pngtest_encode(samples, 256, 256, options)), true);
}

// The vidprobe writer's own files (frames, masks, depth maps) take the fast path.
TEST_F(PngLibdeflateTest, VidprobeWrittenFramesTakeTheFastPath) {
  ImageU8 rgb(31, 9, 3);
  for (std::size_t i = 0; i < rgb.pixels.size(); ++i) rgb.pixels[i] = static_cast<std::uint8_t>(i);
  write_png(dir_ / "rgb.png", rgb);
  ImageU16 depth(5, 3, 1);
  for (std::size_t i = 0; i < depth.pixels.size(); ++i)
    depth.pixels[i] = static_cast<std::uint16_t>(4099 * i);
  write_png(dir_ / "depth.png", depth);
  PngDecoder decoder = PngDecoder::kLibpng;
  EXPECT_EQ(png_decoders::read_png_u8(dir_ / "rgb.png", &decoder).pixels, rgb.pixels);
  EXPECT_EQ(decoder, PngDecoder::kLibdeflate);
  decoder = PngDecoder::kLibpng;
  EXPECT_EQ(png_decoders::read_png_u16(dir_ / "depth.png", &decoder).pixels, depth.pixels);
  EXPECT_EQ(decoder, PngDecoder::kLibdeflate);
}

TEST_F(PngLibdeflateTest, OtherFormatsGoToLibpng) {
  std::mt19937 rng(3);
  struct Case {
    const char* name;
    PngWriteOptions options;
  };
  std::vector<Case> cases(4);
  cases[0] = {"palette.png", {}};
  cases[0].options.color_type = PNG_COLOR_TYPE_PALETTE;
  cases[0].options.palette = true;
  cases[1] = {"gray4.png", {}};
  cases[1].options.color_type = PNG_COLOR_TYPE_GRAY;
  cases[1].options.bit_depth = 4;
  cases[2] = {"trns.png", {}};
  cases[2].options.transparency = true;
  cases[3] = {"interlaced.png", {}};
  cases[3].options.interlace = PNG_INTERLACE_ADAM7;
  for (const auto& [name, options] : cases) {
    const int bits = pngtest_channels(options.color_type) * options.bit_depth;
    const auto samples = pngtest_samples(17 * bits / 8 + (bits < 8), 5, 1, rng);
    const auto path = write(name, pngtest_encode(samples, 17, 5, options));
    PngDecoder decoder = PngDecoder::kLibdeflate;
    const ImageU8 image = png_decoders::read_png_u8(path, &decoder);
    EXPECT_EQ(decoder, PngDecoder::kLibpng) << name;
    EXPECT_EQ(image.pixels, png_decoders::read_png_u8_libpng(path).pixels) << name;
  }
  // A 16-bit read of an 8-bit file is libpng's refusal, as before.
  const auto eight = write("eight.png", pngtest_encode(std::vector<png_byte>(9, 1), 3, 1, {}));
  EXPECT_THAT([&] { read_png_u16(eight); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("eight.png"), HasSubstr("16-bit"))));
}

// Damaged files. The PNGs are built here byte by byte so that each carries exactly one fault.
std::string pngtest_be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string pngtest_chunk(std::string_view type, std::string_view data) {
  std::string body = std::string(type) + std::string(data);
  return pngtest_be32(data.size()) + body +
         pngtest_be32(libdeflate_crc32(0, body.data(), body.size()));
}

std::string pngtest_zlib(std::string_view raw) {
  const std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)> compressor(
      libdeflate_alloc_compressor(6), libdeflate_free_compressor);
  std::string out(libdeflate_zlib_compress_bound(compressor.get(), raw.size()), '\0');
  out.resize(
      libdeflate_zlib_compress(compressor.get(), raw.data(), raw.size(), out.data(), out.size()));
  return out;
}

// An 8-bit gray PNG whose image data inflates to `filtered_rows` (filter bytes included).
std::string pngtest_gray(std::uint32_t width, std::uint32_t height,
                         std::string_view filtered_rows) {
  const std::string ihdr =
      pngtest_be32(width) + pngtest_be32(height) + std::string("\x08\0\0\0\0", 5);
  return "\x89PNG\r\n\x1a\n" + pngtest_chunk("IHDR", ihdr) +
         pngtest_chunk("IDAT", pngtest_zlib(filtered_rows)) + pngtest_chunk("IEND", "");
}

// Rewrites the CRC of the chunk whose data starts at `data` (after an edit inside it).
void pngtest_fix_crc(std::string& png, std::size_t data) {
  const auto* p = reinterpret_cast<const unsigned char*>(png.data() + data - 8);
  const std::uint32_t length = std::uint32_t{p[0]} << 24 | p[1] << 16 | p[2] << 8 | p[3];
  png.replace(data + length, 4, pngtest_be32(libdeflate_crc32(0, p + 4, 4 + length)));
}

class PngLibdeflateRefusalTest : public PngLibdeflateTest {
 protected:
  void expect_refused(const std::string& name, std::string_view bytes, const std::string& reason) {
    const fs::path path = write(name, bytes);
    PngDecoder decoder = PngDecoder::kLibpng;
    EXPECT_THAT([&] { png_decoders::read_png_u8(path, &decoder); },
                ::testing::ThrowsMessage<Error>(
                    AllOf(HasSubstr("corrupt PNG '" + path.string() + "'"), HasSubstr(reason))))
        << name;
  }
};

TEST_F(PngLibdeflateRefusalTest, TheBuilderMakesValidFiles) {  // the control of the tests below
  const auto path = write("good.png", pngtest_gray(3, 2, std::string("\0\1\2\3\2\4\5\6", 8)));
  PngDecoder decoder = PngDecoder::kLibpng;
  EXPECT_EQ(png_decoders::read_png_u8(path, &decoder).pixels,
            (ImageU8::Pixels{1, 2, 3, 5, 7, 9}));  // row 2: Up
  EXPECT_EQ(decoder, PngDecoder::kLibdeflate);
  EXPECT_EQ(png_decoders::read_png_u8_libpng(path).pixels, (ImageU8::Pixels{1, 2, 3, 5, 7, 9}));
}

TEST_F(PngLibdeflateRefusalTest, DamagedFilesAreRefusedNamingTheFile) {
  const std::string good = pngtest_gray(3, 2, std::string("\0\1\2\3\2\4\5\6", 8));
  const std::size_t idat = good.find("IDAT") + 4;  // its data
  const std::size_t idat_length = good.size() - 12 - idat - 4;

  std::string bad_crc = good;
  bad_crc[idat + idat_length] ^= 1;
  expect_refused("crc.png", bad_crc, "CRC error in chunk IDAT");

  std::string bad_adler = good;
  bad_adler[idat + idat_length - 1] ^= 1;  // the zlib stream's last byte: Adler-32
  pngtest_fix_crc(bad_adler, idat);
  expect_refused("adler.png", bad_adler, "Adler-32");

  expect_refused("truncated.png", std::string_view(good).substr(0, idat + 3), "truncated");
  expect_refused("no_iend.png", std::string_view(good).substr(0, good.size() - 12), "no IEND");
  expect_refused("filter.png", pngtest_gray(3, 2, std::string("\0\1\2\3\5\4\5\6", 8)),
                 "bad filter type 5 in row 1");
  expect_refused("short.png", pngtest_gray(3, 2, std::string("\0\1\2\3\2\4\5", 7)),
                 "not enough image data");
}

// What libpng reads with a warning, the fast path leaves to it: image data that inflate to more
// than the image needs (libpng drops the excess), an ancillary chunk with a bad CRC (skipped).
TEST_F(PngLibdeflateRefusalTest, WhatLibpngReadsWithAWarningGoesToLibpng) {
  const std::string good = pngtest_gray(3, 2, std::string("\0\1\2\3\2\4\5\6", 8));
  std::string text_chunk = pngtest_be32(4) + "tEXta=b" + std::string(1, '\0');
  text_chunk += pngtest_be32(0);  // wrong CRC
  std::string bad_ancillary = good;
  bad_ancillary.insert(8 + 25, text_chunk);  // after the signature and IHDR
  const std::vector<std::pair<std::string, std::string>> files = {
      {"long.png", pngtest_gray(3, 2, std::string("\0\1\2\3\2\4\5\6\0", 9))},
      {"ancillary_crc.png", bad_ancillary}};
  for (const auto& [name, bytes] : files) {
    const auto path = write(name, bytes);
    PngDecoder decoder = PngDecoder::kLibdeflate;
    EXPECT_EQ(png_decoders::read_png_u8(path, &decoder).pixels, (ImageU8::Pixels{1, 2, 3, 5, 7, 9}))
        << name;
    EXPECT_EQ(decoder, PngDecoder::kLibpng) << name;
  }
}

TEST_F(PngLibdeflateRefusalTest, AHeaderDeclaringAnEnormousImageIsRefusedBeforeDecoding) {
  const std::string png = pngtest_gray(100000, 100000, std::string("\0\1", 2));
  const auto path = write("huge.png", png);
  EXPECT_THAT([&] { read_png_u8(path); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("huge.png"), HasSubstr("declares 100000 x 100000 pixels"))));
}

}  // namespace vidprobe::png_libdeflate_test
