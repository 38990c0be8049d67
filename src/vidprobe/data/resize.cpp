#include "vidprobe/data/resize.h"

#include <algorithm>
#include <cmath>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

// Source coordinate of a destination pixel centre when an axis of length `from` becomes `to`.
double source_coordinate(int destination, int from, int to) {
  return (destination + 0.5) * static_cast<double>(from) / to - 0.5;
}

struct FilterTap {
  int first = 0;
  std::vector<float> weights;
};

// Triangle filter widened by the downscale factor, so downscaling averages every source pixel
// (antialiasing) and upscaling is plain bilinear interpolation.
std::vector<FilterTap> triangle_taps(int from, int to) {
  const double scale = static_cast<double>(to) / from;
  const double radius = std::max(1.0, 1.0 / scale);
  std::vector<FilterTap> taps(static_cast<std::size_t>(to));
  for (int d = 0; d < to; ++d) {
    const double centre = source_coordinate(d, from, to);
    const int lo = std::max(0, static_cast<int>(std::floor(centre - radius)) + 1);
    const int hi = std::min(from - 1, static_cast<int>(std::ceil(centre + radius)) - 1);
    FilterTap& tap = taps[static_cast<std::size_t>(d)];
    double total = 0.0;
    for (int s = lo; s <= hi; ++s) {
      const double w = std::max(0.0, 1.0 - std::abs(s - centre) / radius);
      tap.weights.push_back(static_cast<float>(w));
      total += w;
    }
    if (total <= 0.0) {  // only when the centre falls outside the image: take the border pixel
      tap.first = std::clamp(static_cast<int>(std::lround(centre)), 0, from - 1);
      tap.weights.assign(1, 1.0f);
      continue;
    }
    tap.first = lo;
    for (auto& w : tap.weights) w = static_cast<float>(w / total);
  }
  return taps;
}

int nearest_source(int destination, int from, int to) {
  // The source pixel whose footprint contains the destination pixel centre.
  const double x = (destination + 0.5) * static_cast<double>(from) / to;
  return std::clamp(static_cast<int>(std::floor(x)), 0, from - 1);
}

// Separable: rows first, then columns. Each output value is accumulated over its taps in
// ascending order from 0, so the loop order below (chosen so that the inner loops run over
// contiguous memory and vectorise) gives the same floats as a per-pixel loop would.
template <typename T>
Image<float> resize_triangle(const Image<T>& image, int width, int height) {
  const auto channels = static_cast<std::size_t>(image.channels);
  const auto horizontal = triangle_taps(image.width, width);
  const auto vertical = triangle_taps(image.height, height);
  Image<float> rows(width, image.height, image.channels);
  std::vector<float> source_row(static_cast<std::size_t>(image.width) * channels);
  for (int y = 0; y < image.height; ++y) {
    const T* in = &image.at(0, y);
    std::transform(in, in + source_row.size(), source_row.begin(),
                   [](T v) { return static_cast<float>(v); });
    float* out = &rows.at(0, y);
    for (const auto& tap : horizontal) {
      const float* first = source_row.data() + static_cast<std::size_t>(tap.first) * channels;
      for (std::size_t c = 0; c < channels; ++c) {
        float sum = 0.0f;
        for (std::size_t k = 0; k < tap.weights.size(); ++k)
          sum += tap.weights[k] * first[k * channels + c];
        out[c] = sum;
      }
      out += channels;
    }
  }
  Image<float> out(width, height, image.channels);
  const std::size_t row_size = static_cast<std::size_t>(width) * channels;
  for (int y = 0; y < height; ++y) {
    const auto& tap = vertical[static_cast<std::size_t>(y)];
    float* target = &out.at(0, y);
    std::fill(target, target + row_size, 0.0f);
    for (std::size_t k = 0; k < tap.weights.size(); ++k) {
      const float w = tap.weights[k];
      const float* source = &rows.at(0, tap.first + static_cast<int>(k));
      for (std::size_t j = 0; j < row_size; ++j) target[j] += w * source[j];
    }
  }
  return out;
}

template <typename T>
Image<T> resize_nearest_impl(const Image<T>& image, int width, int height) {
  Image<T> out(width, height, image.channels);
  for (int y = 0; y < height; ++y) {
    const int sy = nearest_source(y, image.height, height);
    for (int x = 0; x < width; ++x) {
      const int sx = nearest_source(x, image.width, width);
      for (int c = 0; c < image.channels; ++c) out.at(x, y, c) = image.at(sx, sy, c);
    }
  }
  return out;
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
  const Image<float> filtered = resize_triangle(image, width, height);
  ImageU8 out(width, height, image.channels);
  for (std::size_t i = 0; i < out.pixels.size(); ++i)
    out.pixels[i] =
        static_cast<std::uint8_t>(std::clamp(std::lround(filtered.pixels[i]), 0L, 255L));
  return out;
}

ImageF32 resize_bilinear(const ImageF32& image, int width, int height) {
  require_size(width, height, "resize_bilinear");
  if (image.width == width && image.height == height) return image;
  return resize_triangle(image, width, height);
}

ImageU8 resize_nearest(const ImageU8& image, int width, int height) {
  require_size(width, height, "resize_nearest");
  return resize_nearest_impl(image, width, height);
}

ImageF32 resize_nearest(const ImageF32& image, int width, int height) {
  require_size(width, height, "resize_nearest");
  return resize_nearest_impl(image, width, height);
}

template <typename T>
Image<T> crop_image(const Image<T>& image, int x0, int y0, int width, int height) {
  require(x0 >= 0 && y0 >= 0 && width > 0 && height > 0 && x0 + width <= image.width &&
              y0 + height <= image.height,
          "crop: window " + std::to_string(width) + "x" + std::to_string(height) + "+" +
              std::to_string(x0) + "+" + std::to_string(y0) + " does not fit a " +
              std::to_string(image.width) + "x" + std::to_string(image.height) + " image");
  Image<T> out(width, height, image.channels);
  const auto row = static_cast<std::size_t>(width) * image.channels;
  for (int y = 0; y < height; ++y) {
    const auto* src = &image.at(x0, y0 + y);
    std::copy(src, src + row, &out.at(0, y));
  }
  return out;
}

template ImageU8 crop_image(const ImageU8&, int, int, int, int);
template ImageF32 crop_image(const ImageF32&, int, int, int, int);

Frame resize_frame(const Frame& frame, int width, int height) {
  Frame out;
  out.source = frame.source;
  out.camera = scale_camera(frame.camera, width, height);
  if (!frame.rgb.empty()) out.rgb = resize_bilinear(frame.rgb, width, height);
  if (!frame.depth.empty()) out.depth = resize_nearest(frame.depth, width, height);
  if (!frame.valid.empty()) out.valid = resize_nearest(frame.valid, width, height);
  if (!frame.confidence.empty()) out.confidence = resize_nearest(frame.confidence, width, height);
  if (!frame.object_mask.empty())
    out.object_mask = resize_nearest(frame.object_mask, width, height);
  return out;
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

Frame resize_and_center_crop(const Frame& frame, const ResizeSpec& spec) {
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
  Frame scaled = (scaled_width == input.width && scaled_height == input.height)
                     ? frame
                     : resize_frame(frame, scaled_width, scaled_height);
  if (scaled_width == target.width && scaled_height == target.height) return scaled;
  return crop_frame(scaled, (scaled_width - target.width) / 2, (scaled_height - target.height) / 2,
                    target.width, target.height);
}

}  // namespace vidprobe
