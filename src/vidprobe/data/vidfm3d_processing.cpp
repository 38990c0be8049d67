#include "vidprobe/data/vidfm3d_processing.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "vidprobe/core/error.h"
#include "vidprobe/core/python_random.h"
#include "vidprobe/data/resize.h"

namespace vidprobe {
namespace {

// Python's round(x) for the values their code rounds: half to even (the default FE_TONEAREST).
int python_round(double value) {
  return static_cast<int>(std::nearbyint(value));
}

std::optional<PixelBox> union_of(const std::vector<std::optional<PixelBox>>& boxes, int start,
                                 const Co3dWindowOptions& o, std::vector<PixelBox>& window) {
  window.clear();
  for (int k = 0; k < o.num_frames; ++k) {
    const auto& box = boxes[static_cast<std::size_t>(start + k * o.stride)];
    if (!box) return std::nullopt;  // an empty mask discards the window, as theirs
    window.push_back(*box);
  }
  PixelBox u = window.front();
  for (const auto& b : window) {
    u.x0 = std::min(u.x0, b.x0);
    u.y0 = std::min(u.y0, b.y0);
    u.x1 = std::max(u.x1, b.x1);
    u.y1 = std::max(u.y1, b.y1);
  }
  return u;
}

PixelBox with_border(const PixelBox& u, double border, int width, int height) {
  const int pad_x = python_round(border * u.width() / 2);
  const int pad_y = python_round(border * u.height() / 2);
  return {std::max(0, u.x0 - pad_x), std::max(0, u.y0 - pad_y), std::min(width - 1, u.x1 + pad_x),
          std::min(height - 1, u.y1 + pad_y)};
}

}  // namespace

std::optional<PixelBox> tight_mask_box(const ImageU8& mask) {
  require(mask.channels == 1, "tight_mask_box: the mask must have one channel");
  std::optional<PixelBox> box;
  for (int y = 0; y < mask.height; ++y)
    for (int x = 0; x < mask.width; ++x) {
      if (!mask.pixels[static_cast<std::size_t>(y) * mask.width + x]) continue;
      if (!box) box = PixelBox{x, y, x, y};
      box->x0 = std::min(box->x0, x);
      box->x1 = std::max(box->x1, x);
      box->y1 = y;  // rows are scanned in order; y0 is the first row seen
    }
  return box;
}

PixelBox centred_aspect_crop(int image_width, int image_height, const PixelBox& content,
                             double aspect) {
  const double cx = (image_width - 1) / 2.0, cy = (image_height - 1) / 2.0;
  const double half_w = std::max(cx - content.x0, content.x1 - cx);
  const double half_h = std::max(cy - content.y0, content.y1 - cy);
  double w = 2 * half_w + 1, h = w / aspect;
  if (h < 2 * half_h + 1) {  // the height is the tighter side
    h = 2 * half_h + 1;
    w = h * aspect;
  }
  int crop_w = static_cast<int>(std::ceil(w)), crop_h = static_cast<int>(std::ceil(h));
  if (static_cast<double>(crop_w) / crop_h > aspect)
    crop_w = python_round(crop_h * aspect);
  else
    crop_h = python_round(crop_w / aspect);
  if (crop_w > image_width || crop_h > image_height) {  // shrink uniformly to fit the image
    const double s = std::min(static_cast<double>(image_width) / crop_w,
                              static_cast<double>(image_height) / crop_h);
    crop_w = static_cast<int>(std::floor(crop_w * s));
    crop_h = python_round(crop_w / aspect);
    crop_w = std::min(crop_w, image_width);
  }
  const int x0 = python_round(cx - crop_w / 2.0), y0 = python_round(cy - crop_h / 2.0);
  return {std::max(0, x0), std::max(0, y0), std::min(image_width - 1, x0 + crop_w - 1),
          std::min(image_height - 1, y0 + crop_h - 1)};
}

double truncation(const std::vector<PixelBox>& boxes, const PixelBox& crop) {
  long long lost = 0, total = 0;
  for (const auto& b : boxes) {
    const long long area = static_cast<long long>(b.width()) * b.height();
    total += area;
    const long long keep =
        static_cast<long long>(std::max(std::min(b.x1, crop.x1) - std::max(b.x0, crop.x0) + 1, 0)) *
        std::max(std::min(b.y1, crop.y1) - std::max(b.y0, crop.y0) + 1, 0);
    lost += area - keep;
  }
  return total ? static_cast<double>(lost) / static_cast<double>(total) : 0.0;
}

double upsample_factor(const PixelBox& crop, int target_width, int target_height) {
  return std::max(static_cast<double>(target_width) / crop.width(),
                  static_cast<double>(target_height) / crop.height());
}

std::vector<int> Co3dWindow::frames() const {
  std::vector<int> out;
  if (!accepted || !start) return out;
  for (int k = 0; k < num_frames; ++k) out.push_back(*start + k * stride);
  return out;
}

Co3dWindow choose_co3d_window(const std::vector<std::optional<PixelBox>>& boxes, int image_width,
                              int image_height, const Co3dWindowOptions& o) {
  require(o.num_frames >= 1 && o.stride >= 1 && o.search_step >= 1,
          "CO3D window: num_frames, stride and search_step must be positive");
  Co3dWindow best;
  best.stride = o.stride;
  best.num_frames = o.num_frames;
  const int n = static_cast<int>(boxes.size());
  std::vector<PixelBox> window;
  for (int start = 0; start < n - o.stride * (o.num_frames - 1); start += o.search_step) {
    const auto u = union_of(boxes, start, o, window);
    if (!u) continue;
    const auto crop =
        centred_aspect_crop(image_width, image_height,
                            with_border(*u, o.bbox_border, image_width, image_height), o.aspect);
    const double t = truncation(window, crop);
    if (t < best.truncation) {  // strict: the first of equal windows wins
      best.truncation = t;
      best.crop = crop;
      best.start = start;
    }
  }
  best.upsample = best.start ? upsample_factor(best.crop, o.target_width, o.target_height)
                             : std::numeric_limits<double>::infinity();
  best.accepted =
      best.start && best.truncation <= o.max_truncation && best.upsample <= o.max_upsample;
  return best;
}

namespace {

// cv2's INTER_RESIZE_COEF_BITS: weights are integers scaled by 2^11.
constexpr int kCoefBits = 11;

// Per output index of one axis: the first of four source taps and their fixed-point weights.
struct CubicAxis {
  std::vector<int> first;
  std::vector<std::array<int, 4>> weights;
};

// interpolateCubic of cv2 (float), weights rounded half to even as saturate_cast<short> does.
CubicAxis cubic_axis(int in_size, int out_size) {
  constexpr float A = -0.75f;
  const double scale = static_cast<double>(in_size) / out_size;
  CubicAxis axis;
  for (int o = 0; o < out_size; ++o) {
    const auto position = static_cast<float>((o + 0.5) * scale - 0.5);
    const int floor = static_cast<int>(std::floor(position));
    const float x = position - static_cast<float>(floor);
    std::array<float, 4> c{};
    c[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
    c[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
    c[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
    c[3] = 1.f - c[0] - c[1] - c[2];
    std::array<int, 4> w{};
    for (std::size_t k = 0; k < 4; ++k)
      w[k] = static_cast<int>(std::nearbyint(c[k] * static_cast<float>(1 << kCoefBits)));
    axis.first.push_back(floor - 1);
    axis.weights.push_back(w);
  }
  return axis;
}

int clamp_index(int index, int size) {
  return std::clamp(index, 0, size - 1);
}

}  // namespace

ImageU8 cv2_resize_cubic(const ImageU8& image, int width, int height) {
  require(!image.empty() && width > 0 && height > 0,
          "cv2_resize_cubic: empty image or target size " + std::to_string(width) + "x" +
              std::to_string(height));
  const int channels = image.channels;
  const auto columns = cubic_axis(image.width, width);
  const auto rows = cubic_axis(image.height, height);
  // Horizontal pass on every source row, in cv2's int buffer.
  std::vector<std::int64_t> horizontal(static_cast<std::size_t>(image.height) * width * channels);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        std::int64_t sum = 0;
        for (int k = 0; k < 4; ++k)
          sum +=
              static_cast<std::int64_t>(image.at(
                  clamp_index(columns.first[static_cast<std::size_t>(x)] + k, image.width), y, c)) *
              columns.weights[static_cast<std::size_t>(x)][static_cast<std::size_t>(k)];
        horizontal[(static_cast<std::size_t>(y) * width + x) * channels + c] = sum;
      }
  ImageU8 out(width, height, channels, kUninitialised);
  constexpr int kShift = 2 * kCoefBits;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        std::int64_t sum = 0;
        for (int k = 0; k < 4; ++k) {
          const int source_row =
              clamp_index(rows.first[static_cast<std::size_t>(y)] + k, image.height);
          sum += horizontal[(static_cast<std::size_t>(source_row) * width + x) * channels + c] *
                 rows.weights[static_cast<std::size_t>(y)][static_cast<std::size_t>(k)];
        }
        const std::int64_t value = (sum + (std::int64_t{1} << (kShift - 1))) >> kShift;
        out.at(x, y, c) = static_cast<std::uint8_t>(std::clamp<std::int64_t>(value, 0, 255));
      }
  return out;
}

template <typename T>
Image<T> cv2_resize_nearest(const Image<T>& image, int width, int height) {
  require(!image.empty() && width > 0 && height > 0,
          "cv2_resize_nearest: empty image or target size " + std::to_string(width) + "x" +
              std::to_string(height));
  // cv2 multiplies by the inverse of the inverse scale, in double.
  const double x_step = 1.0 / (static_cast<double>(width) / image.width);
  const double y_step = 1.0 / (static_cast<double>(height) / image.height);
  Image<T> out(width, height, image.channels);
  for (int y = 0; y < height; ++y) {
    const int sy = std::min(static_cast<int>(std::floor(y * y_step)), image.height - 1);
    for (int x = 0; x < width; ++x) {
      const int sx = std::min(static_cast<int>(std::floor(x * x_step)), image.width - 1);
      for (int c = 0; c < image.channels; ++c) out.at(x, y, c) = image.at(sx, sy, c);
    }
  }
  return out;
}

template ImageU8 cv2_resize_nearest(const ImageU8&, int, int);
template ImageF32 cv2_resize_nearest(const ImageF32&, int, int);

Frame vidfm3d_co3d_crop(const Frame& frame, const PixelBox& crop,
                        const Co3dWindowOptions& options) {
  const int target_width = options.target_width, target_height = options.target_height;
  const Frame cropped = crop_frame(frame, crop.x0, crop.y0, crop.width(), crop.height());
  Frame out;
  out.source = frame.source;
  out.camera = scale_camera(cropped.camera, target_width, target_height);
  out.rgb = cv2_resize_cubic(cropped.rgb, target_width, target_height);
  if (options.rgb_jpeg_round_trip) out.rgb = jpeg_round_trip(out.rgb, options.rgb_jpeg);
  const auto nearest = [&](const auto& map) {
    return map.empty() ? map : cv2_resize_nearest(map, target_width, target_height);
  };
  out.depth = nearest(cropped.depth);
  out.valid = nearest(cropped.valid);
  out.confidence = nearest(cropped.confidence);
  out.object_mask = nearest(cropped.object_mask);
  return out;
}

int dl3dv_window_start(int num_frames, int window, std::uint64_t seed) {
  require(window >= 1 && num_frames >= window, "DL3DV window: a window of " +
                                                   std::to_string(window) +
                                                   " frames needs at least that "
                                                   "many frames, the scene has " +
                                                   std::to_string(num_frames));
  if (num_frames == window) return 0;
  PythonRandom random(seed);
  return static_cast<int>(random.randbelow(static_cast<std::uint64_t>(num_frames - window)));
}

const std::vector<std::pair<std::string, std::string>>& vidfm3d_dl3dv_outliers() {
  // vidfm3d/data/processing/dl3dv/create_split.py `outliers` (the list, not their code).
  static const std::vector<std::pair<std::string, std::string>> outliers = {
      {"4K", "e9b49b6588acea0bee7b8ecd0ff34ea24dcb9a8e84e10a124ee8b8bab0983f11"},
      {"4K", "cc40802589f94594383488ff89249d7be1b0609a3b9cfc980698bf2854406eff"},
      {"4K", "88e8c9b9d50305d4c35e9f918527b4b4c2a5f69651fe63678278aa4c0fa122c9"},
      {"4K", "2cbef5aa4038c2674847e25d77d43a7401554f518ef4ff9f36038c6aac7c1e2b"},
      {"4K", "22657d48067798e7286d409f0c62cba3667f90a3e71f7ad7ba70ab54ed6f885b"},
      {"4K", "5b93293a6d926ce06f6efa8dbf5429df90d14077f12456c1c48402d007fe9191"},
      {"4K", "5d6481db3d3f5d79fba3092a4a8dcb04ba9cb20ce20f66b0dfbd5ca85edfb734"},
      {"3K", "6da29bd9d9b51888ac93d545aeedaf7c72a41b56f09f90ff1da3ea01ee200176"},
      {"4K", "023633c21f5b4a633a836e5c8eb8e5464bd133db28c3c2fc7324124eeb031105"},
      {"3K", "785fc27e01679d03934ac0601acf26c54f474ccc23bb313a111f56ff6d4cbdc3"},
      {"3K", "b917b26a4b0387001b6598ca28d7c21f003eb1285bb82fc11cf297e06128c625"},
      {"4K", "a8a848e57e3e74a18107d8b0166323ede27e80bd9a7ec83cca17bd77bcaf4588"},
      {"3K", "eb42750070f9e8d5b5569aaffb1a97626a9dcf4ac588f5092824bf183e0e3fa7"},
  };
  return outliers;
}

Vidfm3dSplit vidfm3d_split(std::vector<std::pair<std::string, std::string>> scenes,
                           bool drop_dl3dv_outliers, double val_ratio, std::uint64_t seed) {
  require(val_ratio >= 0 && val_ratio < 1,
          "split: the validation ratio must be in [0, 1), got " + std::to_string(val_ratio));
  // They sort subset folders, then file names "<hash>.sft" within each.
  std::sort(scenes.begin(), scenes.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second + ".sft" < b.second + ".sft";
  });
  if (drop_dl3dv_outliers) {
    const auto& outliers = vidfm3d_dl3dv_outliers();
    std::erase_if(scenes, [&](const auto& scene) {
      return std::find(outliers.begin(), outliers.end(), scene) != outliers.end();
    });
  }
  require(!scenes.empty(), "split: no scenes to split");
  PythonRandom random(seed);
  random.shuffle(scenes);
  const auto n_val = std::max<std::size_t>(
      1, static_cast<std::size_t>(static_cast<double>(scenes.size()) * val_ratio));
  Vidfm3dSplit split;
  split.val.assign(scenes.begin(), scenes.begin() + static_cast<std::ptrdiff_t>(n_val));
  split.train.assign(scenes.begin() + static_cast<std::ptrdiff_t>(n_val), scenes.end());
  return split;
}

}  // namespace vidprobe
