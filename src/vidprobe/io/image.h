#pragma once
// Image containers and the project's single image codec layer (PNG via libpng, JPEG via libjpeg).
// Pixels are row-major, channels interleaved (H x W x C), origin at the top-left pixel.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace vidprobe {

template <typename T>
struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<T> pixels;  // size width * height * channels

  Image() = default;
  Image(int w, int h, int c, T fill = T{})
      : width(w), height(h), channels(c), pixels(static_cast<std::size_t>(w) * h * c, fill) {}
  T& at(int x, int y, int c = 0) { return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c]; }
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

// JPEG (read only; datasets ship JPEGs, vidprobe writes PNG).
ImageU8 read_jpeg(const std::filesystem::path& path);

// Dispatches on the extension (.png / .jpg / .jpeg, case-insensitive); RGB output (3 channels).
ImageU8 read_rgb(const std::filesystem::path& path);

}  // namespace vidprobe
