#pragma once
// Image containers and the project's single image codec layer (PNG read through libdeflate for the
// common formats and libpng for the rest, written by libpng; JPEG via libjpeg).
// Pixels are row-major, channels interleaved (H x W x C), origin at the top-left pixel.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace vidprobe {

// An allocator whose value-less construct leaves a pixel uninitialised: a decoder, a file read or
// a resize that writes every pixel no longer zeroes them all first (5 % of a clip's load,
// docs/perf.md). Everything that passes a value (a fill, a copy) constructs as std::allocator does.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* place) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(place)) U;
  }
  template <typename U, typename... Args>
  void construct(U* place, Args&&... args) {
    std::construct_at(place, std::forward<Args>(args)...);
  }
};

// Marks the constructor that leaves the pixels unset, for code that writes every one of them.
struct Uninitialised {};
inline constexpr Uninitialised kUninitialised{};

template <typename T>
struct Image {
  using Pixels = std::vector<T, DefaultInitAllocator<T>>;
  int width = 0, height = 0, channels = 0;
  Pixels pixels;  // size width * height * channels

  Image() = default;
  Image(int w, int h, int c, T fill = T{})
      : width(w), height(h), channels(c), pixels(static_cast<std::size_t>(w) * h * c, fill) {}
  Image(int w, int h, int c, Uninitialised)
      : width(w), height(h), channels(c), pixels(static_cast<std::size_t>(w) * h * c) {}
  T& at(int x, int y, int c = 0) {
    return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c];
  }
  const T& at(int x, int y, int c = 0) const {
    return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c];
  }
  bool empty() const { return pixels.empty(); }
};

using ImageU8 = Image<std::uint8_t>;
using ImageU16 = Image<std::uint16_t>;
using ImageF32 = Image<float>;

// PNG: 8-bit gray/RGB/RGBA and 16-bit gray. Writes are atomic (temporary name + rename).
ImageU8 read_png_u8(const std::filesystem::path& path);    // any PNG, converted to 8-bit
ImageU16 read_png_u16(const std::filesystem::path& path);  // 16-bit gray PNG (depth maps)
void write_png(const std::filesystem::path& path, const ImageU8& image);
void write_png(const std::filesystem::path& path, const ImageU16& image);

// JPEG. Datasets ship JPEGs and vidprobe writes PNG; the encoder exists to reproduce the lossy
// JPEG step of a reference pipeline (the authors' CO3D frames are cv2.imwrite JPEGs that every
// later step reads back; data/vidfm3d_processing.h).
// Decoding: libjpeg's accurate integer IDCT (JDCT_ISLOW) and fancy (triangular) chroma
// upsampling, libjpeg-turbo's defaults and what cv2.imread and Pillow decode with.
ImageU8 read_jpeg(const std::filesystem::path& path);
ImageU8 decode_jpeg(std::string_view bytes);  // an in-memory JPEG file; errors say "in-memory"

enum class JpegChroma { k420, k422, k444 };  // chroma sampling of the Cb and Cr planes
// cv2.imwrite(".jpg", image) with no parameters: quality 95 (the standard tables scaled and capped
// at baseline values), 4:2:0, baseline sequential (not progressive), the standard Huffman tables
// (not optimised), no restart markers, JDCT_ISLOW forward DCT: jpeg_set_defaults plus
// jpeg_set_quality(95, TRUE), exactly what OpenCV's JPEG encoder sets.
struct JpegEncodeOptions {
  int quality = 95;  // 1..100
  JpegChroma chroma = JpegChroma::k420;
};
// A JPEG file of an 8-bit gray or RGB image (1 or 3 channels); throws vidprobe::Error otherwise.
std::string encode_jpeg(const ImageU8& image, const JpegEncodeOptions& options = {});
// decode_jpeg(encode_jpeg(image, options)): the pixels a reader of that JPEG file sees.
ImageU8 jpeg_round_trip(const ImageU8& image, const JpegEncodeOptions& options = {});

// Dispatches on the extension (.png / .jpg / .jpeg, case-insensitive); RGB output (3 channels).
ImageU8 read_rgb(const std::filesystem::path& path);

}  // namespace vidprobe
