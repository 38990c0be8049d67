#include "vidprobe/data/pil_resample.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "vidprobe/core/error.h"

namespace vidprobe {
namespace {

// 8-bit results leave 32 - 8 - 2 bits of fraction; the 2 spare bits absorb the overshoot of
// kernels with negative lobes.
constexpr int kPrecisionBits = 22;
constexpr std::int32_t kHalfUnit = std::int32_t{1} << (kPrecisionBits - 1);

double box_kernel(double x) {
  return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
}

double triangle_kernel(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_kernel(double x) {
  x = std::abs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x *= std::numbers::pi;
  // Pillow's constants are single-precision literals; their float values are part of the result.
  return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
}

double cubic_kernel(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}

double lanczos_kernel(double x) {
  return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0;
}

struct Kernel {
  double (*weight)(double);
  double support;  // half-width in input pixels at scale 1
};

Kernel kernel_of(PilFilter filter) {
  switch (filter) {
    case PilFilter::kBox:
      return {box_kernel, 0.5};
    case PilFilter::kBilinear:
      return {triangle_kernel, 1.0};
    case PilFilter::kHamming:
      return {hamming_kernel, 1.0};
    case PilFilter::kBicubic:
      return {cubic_kernel, 2.0};
    case PilFilter::kLanczos:
      return {lanczos_kernel, 3.0};
  }
  throw Error("pil_resize: unknown filter " + std::to_string(static_cast<int>(filter)));
}

// The fixed-point weights of one axis: output pixel i reads inputs first[i] .. first[i] +
// count[i] - 1 with weights[i * stride ...].
struct AxisWeights {
  int stride = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weights;
};

std::int32_t to_fixed_point(double weight) {
  const double scaled = weight * (1 << kPrecisionBits);
  return static_cast<std::int32_t>(weight < 0 ? -0.5 + scaled : 0.5 + scaled);
}

AxisWeights axis_weights(int in_size, int out_size, const Kernel& kernel) {
  // Pillow passes the source extent as a float box edge.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = kernel.support * filter_scale;
  const double inverse_filter_scale = 1.0 / filter_scale;
  AxisWeights axis;
  axis.stride = static_cast<int>(std::ceil(support)) * 2 + 1;
  axis.first.resize(out_size);
  axis.count.resize(out_size);
  axis.weights.assign(static_cast<std::size_t>(out_size) * axis.stride, 0);
  std::vector<double> weights(axis.stride);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    // Truncation (not floor) is Pillow's rounding; a negative start is clamped to 0 either way.
    const int first = std::max(static_cast<int>(center - support + 0.5), 0);
    const int end = std::min(static_cast<int>(center + support + 0.5), in_size);
    const int count = end - first;
    double sum = 0.0;
    for (int k = 0; k < count; ++k) {
      weights[k] = kernel.weight((k + first - center + 0.5) * inverse_filter_scale);
      sum += weights[k];
    }
    std::int32_t* fixed = &axis.weights[static_cast<std::size_t>(i) * axis.stride];
    for (int k = 0; k < count; ++k)
      fixed[k] = to_fixed_point(sum != 0.0 ? weights[k] / sum : weights[k]);
    axis.first[i] = first;
    axis.count[i] = count;
  }
  return axis;
}

std::uint8_t clip_to_u8(std::int32_t sum) {
  return static_cast<std::uint8_t>(std::clamp(sum >> kPrecisionBits, 0, 255));
}

ImageU8 resample_rows(const ImageU8& image, int out_width, const Kernel& kernel) {
  const AxisWeights axis = axis_weights(image.width, out_width, kernel);
  const int channels = image.channels;
  ImageU8 out(out_width, image.height, channels, kUninitialised);
  for (int y = 0; y < image.height; ++y) {
    const std::uint8_t* row = &image.at(0, y);
    for (int x = 0; x < out_width; ++x) {
      const std::int32_t* weights = &axis.weights[static_cast<std::size_t>(x) * axis.stride];
      const std::uint8_t* source = row + static_cast<std::size_t>(axis.first[x]) * channels;
      for (int c = 0; c < channels; ++c) {
        std::int32_t sum = kHalfUnit;
        for (int k = 0; k < axis.count[x]; ++k) sum += source[k * channels + c] * weights[k];
        out.at(x, y, c) = clip_to_u8(sum);
      }
    }
  }
  return out;
}

ImageU8 resample_columns(const ImageU8& image, int out_height, const Kernel& kernel) {
  const AxisWeights axis = axis_weights(image.height, out_height, kernel);
  const std::size_t row_size = static_cast<std::size_t>(image.width) * image.channels;
  ImageU8 out(image.width, out_height, image.channels, kUninitialised);
  std::vector<std::int32_t> sums(row_size);
  for (int y = 0; y < out_height; ++y) {
    const std::int32_t* weights = &axis.weights[static_cast<std::size_t>(y) * axis.stride];
    std::fill(sums.begin(), sums.end(), kHalfUnit);
    for (int k = 0; k < axis.count[y]; ++k) {
      const std::uint8_t* source = &image.at(0, axis.first[y] + k);
      for (std::size_t i = 0; i < row_size; ++i) sums[i] += source[i] * weights[k];
    }
    std::uint8_t* target = &out.at(0, y);
    for (std::size_t i = 0; i < row_size; ++i) target[i] = clip_to_u8(sums[i]);
  }
  return out;
}

bool vertical_pass_first(int in_width, int in_height, int out_width, int out_height,
                         PillowRelease release) {
  switch (release) {
    case PillowRelease::kUpTo12_1:
      return false;
    case PillowRelease::k12_2:
      return in_height > static_cast<std::int64_t>(in_width) * 100 && out_height < in_height;
    case PillowRelease::k13: {
      const std::int64_t height_shrink = std::int64_t{in_height} - out_height;
      const std::int64_t width_shrink = std::int64_t{in_width} - out_width;
      return height_shrink > 0 && height_shrink > width_shrink * 2;
    }
  }
  throw Error("pil_resize: unknown Pillow release " + std::to_string(static_cast<int>(release)));
}

}  // namespace

std::string pil_filter_name(PilFilter filter) {
  switch (filter) {
    case PilFilter::kBox:
      return "box";
    case PilFilter::kBilinear:
      return "bilinear";
    case PilFilter::kHamming:
      return "hamming";
    case PilFilter::kBicubic:
      return "bicubic";
    case PilFilter::kLanczos:
      return "lanczos";
  }
  throw Error("pil_filter_name: unknown filter " + std::to_string(static_cast<int>(filter)));
}

PilFilter parse_pil_filter(std::string_view name) {
  for (PilFilter filter : {PilFilter::kBox, PilFilter::kBilinear, PilFilter::kHamming,
                           PilFilter::kBicubic, PilFilter::kLanczos}) {
    if (name == pil_filter_name(filter)) return filter;
  }
  throw Error("unknown PIL resampling filter '" + std::string(name) +
              "' (known: box, bilinear, hamming, bicubic, lanczos)");
}

ImageU8 pil_resize(const ImageU8& image, int width, int height, PilFilter filter,
                   PillowRelease release) {
  require(width > 0 && height > 0, [&] {
    return "pil_resize: target size must be positive, got " + std::to_string(width) + "x" +
           std::to_string(height);
  });
  require(image.width > 0 && image.height > 0, [&] {
    return "pil_resize: input image is empty (" + std::to_string(image.width) + "x" +
           std::to_string(image.height) + ")";
  });
  require(image.channels >= 1 && image.channels <= 4, [&] {
    return "pil_resize: expected 1 to 4 channels, got " + std::to_string(image.channels);
  });
  require(
      image.pixels.size() == static_cast<std::size_t>(image.width) * image.height * image.channels,
      "pil_resize: pixel buffer does not match the image size");
  const Kernel kernel = kernel_of(filter);
  ImageU8 out = image;
  const auto horizontal = [&] {
    if (out.width != width) out = resample_rows(out, width, kernel);
  };
  const auto vertical = [&] {
    if (out.height != height) out = resample_columns(out, height, kernel);
  };
  if (vertical_pass_first(image.width, image.height, width, height, release)) {
    vertical();
    horizontal();
  } else {
    horizontal();
    vertical();
  }
  return out;
}

}  // namespace vidprobe
