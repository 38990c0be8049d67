#include "vidprobe/io/image.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <jpeglib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {
namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

class ImageIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_support::fresh_temp_dir(
        std::string("image_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

template <typename T>
Image<T> gradient_image(int w, int h, int c, int step) {
  Image<T> image(w, h, c);
  for (std::size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = static_cast<T>((i * step + 7) % (1 << (8 * sizeof(T))));
  return image;
}

TEST_F(ImageIoTest, Png8BitRoundTripsEveryChannelCount) {
  for (int channels = 1; channels <= 4; ++channels) {
    const ImageU8 image = gradient_image<std::uint8_t>(13, 7, channels, 37);
    const fs::path path = dir_ / ("c" + std::to_string(channels) + ".png");
    write_png(path, image);
    const ImageU8 back = read_png_u8(path);
    EXPECT_EQ(back.width, 13);
    EXPECT_EQ(back.height, 7);
    EXPECT_EQ(back.channels, channels);
    EXPECT_EQ(back.pixels, image.pixels) << "channels " << channels;
  }
}

TEST_F(ImageIoTest, Png16BitRoundTripsFullRange) {
  ImageU16 image = gradient_image<std::uint16_t>(9, 5, 1, 4099);
  image.pixels[0] = 0;
  image.pixels[1] = 65535;
  image.pixels[2] = 256;  // distinguishes byte orders
  const fs::path path = dir_ / "depth16.png";
  write_png(path, image);
  const ImageU16 back = read_png_u16(path);
  EXPECT_EQ(back.channels, 1);
  EXPECT_EQ(back.pixels, image.pixels);
  // Reading a 16-bit file as 8-bit keeps the high byte (rounded).
  const ImageU8 narrowed = read_png_u8(path);
  EXPECT_EQ(narrowed.pixels[1], 255);
  EXPECT_EQ(narrowed.pixels[0], 0);
}

TEST_F(ImageIoTest, Reading8BitPngAs16BitNamesFile) {
  const fs::path path = dir_ / "eight.png";
  write_png(path, ImageU8(4, 4, 1, 3));
  try {
    read_png_u16(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("eight.png"));
    EXPECT_THAT(e.what(), HasSubstr("16-bit"));
  }
}

TEST_F(ImageIoTest, ReadRgbExpandsGrayAndDropsAlpha) {
  ImageU8 rgba(2, 1, 4);
  rgba.pixels = {10, 20, 30, 40, 50, 60, 70, 80};
  write_png(dir_ / "rgba.png", rgba);
  const ImageU8 rgb = read_rgb(dir_ / "rgba.png");
  EXPECT_EQ(rgb.channels, 3);
  EXPECT_EQ(rgb.pixels, (ImageU8::Pixels{10, 20, 30, 50, 60, 70}));
  ImageU8 gray(2, 1, 1);
  gray.pixels = {5, 250};
  write_png(dir_ / "gray.PNG", gray);
  EXPECT_EQ(read_rgb(dir_ / "gray.PNG").pixels, (ImageU8::Pixels{5, 5, 5, 250, 250, 250}));
}

// Encodes an RGB JPEG with libjpeg directly (independent of the project's encode_jpeg).
void write_test_jpeg(const fs::path& path, const ImageU8& image, int quality) {
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = static_cast<JDIMENSION>(image.width);
  info.image_height = static_cast<JDIMENSION>(image.height);
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(&image.at(0, static_cast<int>(info.next_scanline), 0));
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  write_file_atomically(path, std::string_view(reinterpret_cast<const char*>(buffer), size));
  jpeg_destroy_compress(&info);
  std::free(buffer);
}

TEST_F(ImageIoTest, JpegDecodesCloseToTheEncodedImage) {
  ImageU8 image(32, 16, 3);
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 32; ++x) {
      image.at(x, y, 0) = static_cast<std::uint8_t>(x * 8);
      image.at(x, y, 1) = static_cast<std::uint8_t>(y * 16);
      image.at(x, y, 2) = 128;
    }
  }
  write_test_jpeg(dir_ / "smooth.jpg", image, 95);
  for (const fs::path& path : {dir_ / "smooth.jpg"}) {
    const ImageU8 decoded = read_jpeg(path);
    ASSERT_EQ(decoded.width, 32);
    ASSERT_EQ(decoded.height, 16);
    ASSERT_EQ(decoded.channels, 3);
    double error = 0;
    for (std::size_t i = 0; i < image.pixels.size(); ++i)
      error += std::abs(decoded.pixels[i] - image.pixels[i]);
    EXPECT_LT(error / static_cast<double>(image.pixels.size()), 4.0);
  }
  fs::copy_file(dir_ / "smooth.jpg", dir_ / "upper.JPEG");
  EXPECT_EQ(read_rgb(dir_ / "upper.JPEG").pixels, read_jpeg(dir_ / "smooth.jpg").pixels);
}

TEST_F(ImageIoTest, NonImageFilesGiveErrorsNamingTheFile) {
  std::ofstream(dir_ / "notes.png") << "this is not a png";
  std::ofstream(dir_ / "notes.jpg") << "this is not a jpeg";
  EXPECT_THAT([&] { read_png_u8(dir_ / "notes.png"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("notes.png")));
  EXPECT_THAT([&] { read_jpeg(dir_ / "notes.jpg"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("notes.jpg")));
  EXPECT_THAT([&] { read_rgb(dir_ / "missing.png"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("missing.png")));
  EXPECT_THAT([&] { read_rgb(dir_ / "image.bmp"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("image.bmp")));
}

TEST_F(ImageIoTest, TruncatedFilesGiveErrorsNamingTheFile) {
  write_png(dir_ / "full.png", gradient_image<std::uint8_t>(64, 64, 3, 11));
  const std::string png = read_file(dir_ / "full.png");
  write_file_atomically(dir_ / "cut.png", std::string_view(png).substr(0, png.size() / 2));
  EXPECT_THAT([&] { read_png_u8(dir_ / "cut.png"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("cut.png")));

  write_test_jpeg(dir_ / "full.jpg", gradient_image<std::uint8_t>(64, 64, 3, 11), 90);
  const std::string jpg = read_file(dir_ / "full.jpg");
  write_file_atomically(dir_ / "cut.jpg", std::string_view(jpg).substr(0, 200));
  // libjpeg would pad the missing scanlines with gray and warn; vidprobe refuses the frame.
  EXPECT_THAT(
      [&] { read_jpeg(dir_ / "cut.jpg"); },
      ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("cut.jpg"), HasSubstr("Premature end"))));
  write_file_atomically(dir_ / "header.jpg", std::string_view(jpg).substr(0, 20));
  EXPECT_THAT([&] { read_jpeg(dir_ / "header.jpg"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("header.jpg")));
}

// A frame header is a few bytes: a file of 300 bytes may declare a 28263 x 11888 frame (a
// libFuzzer finding: 1 GB of pixels decoded from nothing). Refused before decoding.
TEST_F(ImageIoTest, AJpegDeclaringAnEnormousFrameIsRefused) {
  write_test_jpeg(dir_ / "small.jpg", gradient_image<std::uint8_t>(16, 16, 3, 7), 90);
  std::string jpg = read_file(dir_ / "small.jpg");
  const auto sof = jpg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  // SOF0: marker, length (2), precision (1), height (2), width (2).
  for (const auto& [offset, value] : {std::pair{5, 0x2E}, {6, 0x70}, {7, 0x6E}, {8, 0x67}})
    jpg[sof + offset] = static_cast<char>(value);
  write_file_atomically(dir_ / "huge.jpg", jpg);
  EXPECT_THAT([&] { read_rgb(dir_ / "huge.jpg"); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("huge.jpg"), HasSubstr("declares 28263 x 11888 pixels"))));
}

TEST_F(ImageIoTest, WritingInvalidImagesFails) {
  EXPECT_THROW(write_png(dir_ / "empty.png", ImageU8{}), Error);
  EXPECT_THROW(write_png(dir_ / "five.png", ImageU8(2, 2, 5)), Error);
  EXPECT_FALSE(fs::exists(dir_ / "five.png"));
}

// cv2.imwrite's JPEG settings are libjpeg's defaults at quality 95: the same file, byte for byte.
TEST_F(ImageIoTest, EncodeJpegDefaultsAreLibjpegDefaultsAtQuality95) {
  const auto image = gradient_image<std::uint8_t>(37, 21, 3, 13);
  write_test_jpeg(dir_ / "reference.jpg", image, 95);
  const std::string encoded = encode_jpeg(image);
  EXPECT_EQ(encoded, read_file(dir_ / "reference.jpg"));
  EXPECT_EQ(decode_jpeg(encoded).pixels, read_jpeg(dir_ / "reference.jpg").pixels);
  EXPECT_EQ(jpeg_round_trip(image).pixels, decode_jpeg(encoded).pixels);
}

// The luma sampling factors in the frame header (SOF0: marker, length, precision, height, width,
// component count, then id and sampling per component).
int luma_sampling(const std::string& jpeg) {
  const auto sof = jpeg.find("\xFF\xC0");
  EXPECT_NE(sof, std::string::npos);
  return static_cast<unsigned char>(jpeg.at(sof + 11));
}

double mean_error(const ImageU8& a, const ImageU8& b) {
  double error = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) error += std::abs(a.pixels[i] - b.pixels[i]);
  return error / static_cast<double>(a.pixels.size());
}

TEST_F(ImageIoTest, JpegQualityAndChromaSamplingAreHonoured) {
  ImageU8 image(48, 32, 3);  // colours alternating every pixel: all detail is in the chroma
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 48; ++x) {
      const bool odd = (x + y) % 2;
      image.at(x, y, 0) = odd ? 200 : 40;
      image.at(x, y, 1) = 90;
      image.at(x, y, 2) = odd ? 40 : 200;
    }
  EXPECT_EQ(luma_sampling(encode_jpeg(image)), 0x22);  // 4:2:0
  EXPECT_EQ(luma_sampling(encode_jpeg(image, {.chroma = JpegChroma::k422})), 0x21);
  EXPECT_EQ(luma_sampling(encode_jpeg(image, {.chroma = JpegChroma::k444})), 0x11);
  const double subsampled = mean_error(jpeg_round_trip(image), image);
  EXPECT_LT(mean_error(jpeg_round_trip(image, {.chroma = JpegChroma::k444}), image), subsampled);
  EXPECT_GT(mean_error(jpeg_round_trip(image, {.quality = 30}), image), 0);
  EXPECT_NE(encode_jpeg(image, {.quality = 30}), encode_jpeg(image));

  const ImageU8 gray(16, 8, 1, 100);
  const ImageU8 decoded = jpeg_round_trip(gray);
  EXPECT_EQ(decoded.channels, 1);
  EXPECT_EQ(decoded.pixels, gray.pixels);  // a flat block is stored exactly
}

TEST_F(ImageIoTest, EncodingInvalidJpegsFails) {
  EXPECT_THAT([] { encode_jpeg(ImageU8(2, 2, 4)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("got 4 channels")));
  EXPECT_THROW(encode_jpeg(ImageU8{}), Error);
  EXPECT_THAT([] { encode_jpeg(ImageU8(2, 2, 3), {.quality = 0}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("quality must be in [1, 100], got 0")));
  EXPECT_THAT([] { decode_jpeg("not a jpeg"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("in-memory")));
}

}  // namespace
}  // namespace vidprobe
