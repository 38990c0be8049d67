#include "vidprobe/data/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "vidprobe/core/error.h"

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

// Separable: rows first, then columns, each over the window only (the rows pass reads only the
// source rows the window's columns pass needs). Each output value is accumulated over its taps in
// ascending order from 0, so the loop order below (chosen so that the inner loops run over
// contiguous memory and vectorise) gives the same floats as a per-pixel loop would. `emit(y,
// row)` receives each finished output row of window.width * channels floats.
template <typename T, typename Emit>
void resize_triangle(const Image<T>& image, int width, int height, const Window& window,
                     Emit emit) {
  const auto channels = static_cast<std::size_t>(image.channels);
  const auto horizontal_filter = cached_triangle_filter(image.width, width);
  const auto vertical_filter = cached_triangle_filter(image.height, height);
  const AxisFilter& horizontal = *horizontal_filter;
  const AxisFilter& vertical = *vertical_filter;
  // The source rows and columns the window reads.
  const auto span = [](const AxisFilter& filter, int start, int count) {
    std::pair<int, int> range{std::numeric_limits<int>::max(), 0};
    for (int d = start; d < start + count; ++d) {
      const auto& tap = filter.taps[static_cast<std::size_t>(d)];
      range.first = std::min(range.first, tap.first);
      range.second = std::max(range.second, tap.first + tap.count);
    }
    return range;
  };
  const auto [first_row, end_row] = span(vertical, window.y0, window.height);
  const auto [first_column, end_column] = span(horizontal, window.x0, window.width);
  const std::size_t row_size = static_cast<std::size_t>(window.width) * channels;
  std::vector<float> rows(static_cast<std::size_t>(end_row - first_row) * row_size);
  std::vector<float> source_row(static_cast<std::size_t>(end_column - first_column) * channels);
  for (int y = first_row; y < end_row; ++y) {
    const T* in = &image.at(first_column, y);
    std::transform(in, in + source_row.size(), source_row.begin(),
                   [](T v) { return static_cast<float>(v); });
    float* out = rows.data() + static_cast<std::size_t>(y - first_row) * row_size;
    const float* source = source_row.data();
    if (channels == 3)
      horizontal_pass<3>(source, first_column, horizontal, window.x0, window.width, out);
    else if (channels == 1)
      horizontal_pass<1>(source, first_column, horizontal, window.x0, window.width, out);
    else
      horizontal_pass_any(source, first_column, channels, horizontal, window.x0, window.width, out);
  }
  std::vector<float> target(row_size);
  for (int y = window.y0; y < window.y0 + window.height; ++y) {
    const auto& tap = vertical.taps[static_cast<std::size_t>(y)];
    const float* w = vertical.weights_of(tap);
    std::fill(target.begin(), target.end(), 0.0f);
    for (int k = 0; k < tap.count; ++k) {
      const float weight = w[k];
      const float* source =
          rows.data() + static_cast<std::size_t>(tap.first + k - first_row) * row_size;
      for (std::size_t j = 0; j < row_size; ++j) target[j] += weight * source[j];
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
  ImageU8 out(window.width, window.height, image.channels);
  const std::size_t row_size = static_cast<std::size_t>(window.width) * image.channels;
  resize_triangle(image, width, height, window, [&](int y, const float* row) {
    std::uint8_t* target = &out.at(0, y);
    for (std::size_t j = 0; j < row_size; ++j) target[j] = round_to_u8(row[j]);
  });
  return out;
}

ImageF32 resize_bilinear_window(const ImageF32& image, int width, int height,
                                const Window& window) {
  ImageF32 out(window.width, window.height, image.channels);
  const std::size_t row_size = static_cast<std::size_t>(window.width) * image.channels;
  resize_triangle(image, width, height, window,
                  [&](int y, const float* row) { std::copy(row, row + row_size, &out.at(0, y)); });
  return out;
}

template <typename T>
Image<T> resize_nearest_window(const Image<T>& image, int width, int height, const Window& window) {
  Image<T> out(window.width, window.height, image.channels);
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

}  // namespace vidprobe
