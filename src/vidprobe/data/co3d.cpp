#include "vidprobe/data/co3d.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/data/split.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/image.h"

namespace vidprobe {

namespace fs = std::filesystem;

Camera co3d_camera_to_opencv(const Co3dViewpoint& viewpoint, int width, int height) {
  require(width > 0 && height > 0, "CO3D camera: image size must be positive, got " +
                                       std::to_string(width) + "x" + std::to_string(height));
  double scale_x = 0.0, scale_y = 0.0;
  if (viewpoint.intrinsics_format == "ndc_isotropic") {
    scale_x = scale_y = std::min(width, height) / 2.0;
  } else if (viewpoint.intrinsics_format == "ndc_norm_image_bounds") {
    scale_x = width / 2.0;
    scale_y = height / 2.0;
  } else {
    throw Error("CO3D camera: unknown intrinsics_format '" + viewpoint.intrinsics_format +
                "' (expected ndc_isotropic or ndc_norm_image_bounds)");
  }
  Camera camera;
  camera.width = width;
  camera.height = height;
  camera.K = {scale_x * viewpoint.focal_length[0],
              0.0,
              width / 2.0 - scale_x * viewpoint.principal_point[0] - 0.5,
              0.0,
              scale_y * viewpoint.focal_length[1],
              height / 2.0 - scale_y * viewpoint.principal_point[1] - 0.5,
              0.0,
              0.0,
              1.0};
  // PyTorch3D's column-vector rotation is R^T; F = diag(-1, -1, 1) turns left/up into right/down.
  const std::array<double, 3> flip{-1.0, -1.0, 1.0};
  for (int row = 0; row < 3; ++row) {
    for (int col = 0; col < 3; ++col)
      camera.cam_from_world[static_cast<std::size_t>(row * 4 + col)] =
          flip[static_cast<std::size_t>(row)] *
          viewpoint.R[static_cast<std::size_t>(col * 3 + row)];
    camera.cam_from_world[static_cast<std::size_t>(row * 4 + 3)] =
        flip[static_cast<std::size_t>(row)] * viewpoint.T[static_cast<std::size_t>(row)];
  }
  return camera;
}

float half_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  const std::uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  std::uint32_t word = 0;
  if (exponent == 0x1F)
    word = sign | 0x7F800000u | (mantissa << 13);  // infinity or NaN
  else
    word = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  return std::bit_cast<float>(word);
}

ImageF32 read_co3d_depth(const fs::path& png, double scale_adjustment) {
  const ImageU16 raw = read_png_u16(png);
  require(raw.channels == 1, "CO3D depth " + png.string() + ": expected a 1-channel 16-bit PNG");
  ImageF32 depth(raw.width, raw.height, 1, kUninitialised);
  for (std::size_t i = 0; i < raw.pixels.size(); ++i) {
    const double value = half_to_float(raw.pixels[i]) * scale_adjustment;
    depth.pixels[i] = std::isfinite(value) ? static_cast<float>(value) : 0.0f;
  }
  return depth;
}

namespace {

// Provenance of the RGB's JPEG round trip: the encoder's settings, or null when it is off.
nlohmann::json rgb_jpeg_meta(const Co3dWindowOptions& o) {
  if (!o.rgb_jpeg_round_trip) return nullptr;
  const char* chroma = o.rgb_jpeg.chroma == JpegChroma::k420   ? "4:2:0"
                       : o.rgb_jpeg.chroma == JpegChroma::k422 ? "4:2:2"
                                                               : "4:4:4";
  return {{"quality", o.rgb_jpeg.quality}, {"chroma", chroma}};
}

struct Co3dFrameRecord {
  int frame_number = 0;
  std::string image_path;
  int width = 0, height = 0;
  std::optional<std::string> depth_path;
  double depth_scale = 1.0;
  std::optional<std::string> depth_mask_path;
  std::optional<std::string> mask_path;
  Co3dViewpoint viewpoint;
  std::string context;  // "<file>[index]" for error messages
};

template <std::size_t N>
std::array<double, N> read_array(const nlohmann::json& obj, std::string_view key,
                                 const std::string& context) {
  const auto values = json_get<std::vector<double>>(obj, key, context);
  require(values.size() == N, context + ": key '" + std::string(key) + "' must hold " +
                                  std::to_string(N) + " numbers, got " +
                                  std::to_string(values.size()));
  std::array<double, N> out{};
  std::copy(values.begin(), values.end(), out.begin());
  return out;
}

Co3dViewpoint parse_viewpoint(const nlohmann::json& json, const std::string& context) {
  Co3dViewpoint viewpoint;
  const auto rows = json_get<std::vector<std::vector<double>>>(json, "R", context);
  require(rows.size() == 3 && std::all_of(rows.begin(), rows.end(),
                                          [](const auto& row) { return row.size() == 3; }),
          context + ": key 'R' must be a 3x3 matrix");
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      viewpoint.R[static_cast<std::size_t>(r * 3 + c)] =
          rows[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
  viewpoint.T = read_array<3>(json, "T", context);
  viewpoint.focal_length = read_array<2>(json, "focal_length", context);
  viewpoint.principal_point = read_array<2>(json, "principal_point", context);
  viewpoint.intrinsics_format =
      json_get_or<std::string>(json, "intrinsics_format", "ndc_norm_image_bounds", context);
  require(viewpoint.intrinsics_format == "ndc_isotropic" ||
              viewpoint.intrinsics_format == "ndc_norm_image_bounds",
          context +
              ": key 'intrinsics_format' must be ndc_isotropic or ndc_norm_image_bounds, "
              "got '" +
              viewpoint.intrinsics_format + "'");
  return viewpoint;
}

Co3dFrameRecord parse_frame(const nlohmann::json& json, const std::string& context) {
  Co3dFrameRecord frame;
  frame.context = context;
  frame.frame_number = json_get<int>(json, "frame_number", context);
  const auto& image = json_field(json, "image", context);
  frame.image_path = json_get<std::string>(image, "path", context + ".image");
  const auto size = json_get<std::vector<int>>(image, "size", context + ".image");
  require(size.size() == 2 && size[0] > 0 && size[1] > 0,
          context + ".image: key 'size' must be [H, W] with positive entries");
  frame.height = size[0];
  frame.width = size[1];
  if (const auto it = json.find("depth"); it != json.end() && !it->is_null()) {
    frame.depth_path = json_get<std::string>(*it, "path", context + ".depth");
    frame.depth_scale = json_get<double>(*it, "scale_adjustment", context + ".depth");
    require(std::isfinite(frame.depth_scale) && frame.depth_scale > 0,
            context + ".depth: key 'scale_adjustment' must be positive");
    if (const auto mask = it->find("mask_path"); mask != it->end() && !mask->is_null())
      frame.depth_mask_path = json_get<std::string>(*it, "mask_path", context + ".depth");
  }
  if (const auto it = json.find("mask"); it != json.end() && !it->is_null())
    frame.mask_path = json_get<std::string>(*it, "path", context + ".mask");
  frame.viewpoint = parse_viewpoint(json_field(json, "viewpoint", context), context + ".viewpoint");
  // Validate the format now rather than at load time, so a bad file fails when opened.
  (void)co3d_camera_to_opencv(frame.viewpoint, frame.width, frame.height);
  return frame;
}

// Nearest-neighbour resample of a per-pixel map to the image size (some depth maps are stored
// at a lower resolution than their image).
template <typename T>
Image<T> match_size(Image<T> map, int width, int height) {
  if (map.width == width && map.height == height) return map;
  Image<T> out(width, height, map.channels);
  for (int y = 0; y < height; ++y) {
    const int sy = std::min(map.height - 1, static_cast<int>((y + 0.5) * map.height / height));
    for (int x = 0; x < width; ++x) {
      const int sx = std::min(map.width - 1, static_cast<int>((x + 0.5) * map.width / width));
      for (int c = 0; c < map.channels; ++c) out.at(x, y, c) = map.at(sx, sy, c);
    }
  }
  return out;
}

class Co3dDataset final : public Dataset {
 public:
  Co3dDataset(const fs::path& root, const DatasetOptions& options) : Dataset(root, options) {
    require(fs::is_directory(root), "CO3D root is not a directory: " + root.string());
    const Split split = options.split;
    // The authors' window search reads every frame of a sequence; a set list's split keeps a few.
    require(!options.co3d_vidfm3d_crop || options.co3d_set_list.empty() || split == Split::kAll,
            "the vidfm3d CO3D crop searches every frame of a sequence, as the authors' "
            "extract_frames.py does; set list '" +
                options.co3d_set_list + "' keeps only some of them: use one or the other");
    std::vector<std::string> categories = options.categories;
    if (categories.empty()) {
      for (const auto& entry : fs::directory_iterator(root))
        if (entry.is_directory() && fs::exists(entry.path() / "frame_annotations.jgz"))
          categories.push_back(entry.path().filename().string());
      std::sort(categories.begin(), categories.end());
      require(!categories.empty(),
              "CO3D root " + root.string() + " has no <category>/frame_annotations.jgz");
    }
    for (const auto& category : categories) index_category(category, split);

    std::vector<std::string> ids;
    for (const auto& [id, frames] : frames_by_sequence_) ids.push_back(id);
    if (!options.co3d_set_list.empty() && split != Split::kAll) {
      // The set lists already chose the sequences; max_sequences then trims the chosen list.
      if (options.max_sequences > 0 && ids.size() > options.max_sequences)
        ids.resize(options.max_sequences);
    } else {
      if (options.max_sequences > 0 && ids.size() > options.max_sequences)
        ids.resize(options.max_sequences);
      ids = hash_split(std::move(ids), split, options.train_ratio, options.split_seed);
    }
    if (options.co3d_vidfm3d_crop) ids = keep_accepted_windows(ids, *options.co3d_vidfm3d_crop);
    set_sequences(std::move(ids));
  }

  std::string kind() const override { return "co3d"; }

  std::vector<RejectedSequence> rejected_sequences() const override { return rejected_; }

  int num_frames(const std::string& sequence) const override {
    if (const auto* window = window_of(sequence)) return window->num_frames;
    return static_cast<int>(frames_of(sequence).size());
  }

  std::vector<Frame> load_frames(const std::string& sequence,
                                 std::span<const int> indices) const override {
    const auto& records = frames_of(sequence);
    const auto* window = window_of(sequence);
    const int count = num_frames(sequence);
    std::vector<Frame> frames;
    frames.reserve(indices.size());
    for (const int index : indices) {
      require(index >= 0 && index < count, "CO3D sequence '" + sequence + "': frame index " +
                                               std::to_string(index) + " out of range");
      if (!window) {
        frames.push_back(load_frame(records[static_cast<std::size_t>(index)]));
        continue;
      }
      const int record = window->frames()[static_cast<std::size_t>(index)];
      frames.push_back(vidfm3d_co3d_crop(load_frame(records[static_cast<std::size_t>(record)]),
                                         window->crop, *options().co3d_vidfm3d_crop));
    }
    return frames;
  }

 protected:
  nlohmann::json sequence_meta(const std::string& sequence) const override {
    const auto* window = window_of(sequence);
    if (!window) return {};
    const auto& c = window->crop;
    return {
        {"vidfm3d_crop",
         {{"window_start", *window->start},
          {"window_frames", window->num_frames},
          {"stride", window->stride},
          {"crop_x0_y0_x1_y1", {c.x0, c.y0, c.x1, c.y1}},
          {"truncation", window->truncation},
          {"upsample", window->upsample},
          {"size",
           {options().co3d_vidfm3d_crop->target_width, options().co3d_vidfm3d_crop->target_height}},
          {"rgb_jpeg", rgb_jpeg_meta(*options().co3d_vidfm3d_crop)}}}};
  }

 private:
  // extract_frames.py's verdict on one sequence: the accepted window, or the rejection (the
  // sequence id is filled in by the caller).
  struct WindowVerdict {
    std::optional<Co3dWindow> window;
    RejectedSequence rejection;
  };

  static WindowVerdict rejected_because(std::string reason) {
    WindowVerdict verdict;
    verdict.rejection.reason = std::move(reason);
    return verdict;
  }

  WindowVerdict judge_sequence(const std::vector<Co3dFrameRecord>& records,
                               const Co3dWindowOptions& o) const {
    const int width = records.front().width, height = records.front().height;
    std::vector<std::optional<PixelBox>> boxes;
    for (const auto& record : records) {
      if (!record.mask_path) return rejected_because(record.context + " has no key 'mask.path'");
      if (record.width != width || record.height != height)
        return rejected_because(record.context + ": frame size differs from the first frame's");
      const auto path = root() / *record.mask_path;
      const ImageU8 mask = read_gray(path);
      if (mask.width != width || mask.height != height)
        return rejected_because("shape mismatch in " + path.string() + ": " +
                                std::to_string(mask.width) + "x" + std::to_string(mask.height) +
                                " vs RGB " + std::to_string(width) + "x" + std::to_string(height));
      boxes.push_back(tight_mask_box(mask));
    }
    auto window = choose_co3d_window(boxes, width, height, o);
    if (window.accepted) return {std::move(window), {}};
    // Their message, in their format (printf's "inf" for no window, as Python's).
    char reason[96];
    std::snprintf(reason, sizeof reason, "rejected - trunc=%.4f  upx=%.2f", window.truncation,
                  window.upsample);
    WindowVerdict verdict = rejected_because(reason);
    verdict.rejection.truncation = window.truncation;
    verdict.rejection.upsample = window.upsample;
    return verdict;
  }

  // The sequences whose window their code accepts; the others are reported, kept in rejected_
  // and dropped.
  std::vector<std::string> keep_accepted_windows(const std::vector<std::string>& ids,
                                                 const Co3dWindowOptions& o) {
    std::vector<std::string> kept;
    for (const auto& id : ids) {
      auto verdict = judge_sequence(frames_by_sequence_.at(id), o);
      if (!verdict.window) {
        std::cerr << "CO3D: sequence '" << id
                  << "' skipped (vidfm3d crop): " << verdict.rejection.reason << "\n";
        verdict.rejection.sequence = id;
        rejected_.push_back(std::move(verdict.rejection));
        continue;
      }
      windows_.emplace(id, std::move(*verdict.window));
      kept.push_back(id);
    }
    std::cerr << "CO3D: vidfm3d crop kept " << kept.size() << " of " << ids.size()
              << " sequences\n";
    return kept;
  }

  const Co3dWindow* window_of(const std::string& sequence) const {
    const auto it = windows_.find(sequence);
    return it == windows_.end() ? nullptr : &it->second;
  }

  void index_category(const std::string& category, Split split) {
    const fs::path annotations = root() / category / "frame_annotations.jgz";
    const nlohmann::json list = read_json_file(annotations);
    require(list.is_array(), annotations.string() + ": expected a JSON list of frame annotations");

    // With a set list, keep only the frames the chosen split lists.
    std::optional<std::map<std::string, std::set<int>>> allowed;
    if (!options().co3d_set_list.empty() && split != Split::kAll)
      allowed = read_set_list(category, split);

    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string context = annotations.string() + "[" + std::to_string(i) + "]";
      const auto sequence_name = json_get<std::string>(list[i], "sequence_name", context);
      Co3dFrameRecord frame = parse_frame(list[i], context);
      if (allowed) {
        const auto it = allowed->find(sequence_name);
        if (it == allowed->end() || !it->second.contains(frame.frame_number)) continue;
      }
      frames_by_sequence_[category + "/" + sequence_name].push_back(std::move(frame));
    }
    for (auto& [id, frames] : frames_by_sequence_) {
      std::sort(frames.begin(), frames.end(),
                [](const auto& a, const auto& b) { return a.frame_number < b.frame_number; });
      // Two annotations of one frame number would make the frame order (and the clip) ambiguous.
      for (std::size_t i = 1; i < frames.size(); ++i)
        require(frames[i].frame_number != frames[i - 1].frame_number,
                frames[i].context + ": frame_number " + std::to_string(frames[i].frame_number) +
                    " of sequence '" + id + "' is also " + frames[i - 1].context);
    }
  }

  std::map<std::string, std::set<int>> read_set_list(const std::string& category, Split split) {
    const fs::path path =
        root() / category / "set_lists" / ("set_lists_" + options().co3d_set_list + ".json");
    const nlohmann::json lists = read_json_file(path);
    const std::string key = to_string(split);
    const auto& entries = json_field(lists, key, path.string());
    require(entries.is_array(), path.string() + ": key '" + key + "' must be a list");
    std::map<std::string, std::set<int>> allowed;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& entry = entries[i];
      const std::string context = path.string() + "[" + key + "][" + std::to_string(i) + "]";
      require(entry.is_array() && entry.size() >= 2 && entry[0].is_string() &&
                  entry[1].is_number_integer(),
              context + ": expected [sequence_name, frame_number, image_path]");
      allowed[entry[0].get<std::string>()].insert(entry[1].get<int>());
    }
    return allowed;
  }

  const std::vector<Co3dFrameRecord>& frames_of(const std::string& sequence) const {
    require_sequence(sequence);
    return frames_by_sequence_.at(sequence);
  }

  Frame load_frame(const Co3dFrameRecord& record) const {
    Frame frame;
    const fs::path image_path = root() / record.image_path;
    frame.source = image_path.string();
    frame.rgb = read_rgb(image_path);
    require(frame.rgb.width == record.width && frame.rgb.height == record.height,
            image_path.string() + ": image is " + std::to_string(frame.rgb.width) + "x" +
                std::to_string(frame.rgb.height) + " but " + record.context + ".image.size says " +
                std::to_string(record.width) + "x" + std::to_string(record.height));
    frame.camera = co3d_camera_to_opencv(record.viewpoint, record.width, record.height);

    if (record.mask_path)
      frame.object_mask =
          match_size(read_gray(root() / *record.mask_path), record.width, record.height);
    frame.depth = ImageF32(record.width, record.height, 1, 0.0f);
    frame.valid = ImageU8(record.width, record.height, 1, 0);
    if (!record.depth_path) return frame;
    frame.depth = match_size(read_co3d_depth(root() / *record.depth_path, record.depth_scale),
                             record.width, record.height);
    for (std::size_t i = 0; i < frame.depth.pixels.size(); ++i)
      frame.valid.pixels[i] = frame.depth.pixels[i] > 0.0f ? 1 : 0;
    if (record.depth_mask_path)
      and_mask(frame.valid, read_gray(root() / *record.depth_mask_path), 1);
    if (options().co3d_foreground_only) {
      require(record.mask_path.has_value(),
              record.context + ": co3d_foreground_only needs key 'mask.path'");
      and_mask(frame.valid, frame.object_mask, 128);  // probability >= 0.5
    }
    for (std::size_t i = 0; i < frame.depth.pixels.size(); ++i)
      if (!frame.valid.pixels[i]) frame.depth.pixels[i] = 0.0f;
    return frame;
  }

  // A mask PNG as one channel (the first of a multi-channel file).
  static ImageU8 read_gray(const fs::path& path) {
    ImageU8 mask = read_png_u8(path);
    if (mask.channels == 1) return mask;
    ImageU8 gray(mask.width, mask.height, 1, kUninitialised);
    for (int y = 0; y < mask.height; ++y)
      for (int x = 0; x < mask.width; ++x) gray.at(x, y) = mask.at(x, y, 0);
    return gray;
  }

  // valid &= (mask >= threshold), with the mask resampled to the image size if needed.
  static void and_mask(ImageU8& valid, ImageU8 mask, int threshold) {
    mask = match_size(std::move(mask), valid.width, valid.height);
    for (std::size_t i = 0; i < valid.pixels.size(); ++i)
      if (mask.pixels[i] < threshold) valid.pixels[i] = 0;
  }

  std::map<std::string, std::vector<Co3dFrameRecord>> frames_by_sequence_;
  std::map<std::string, Co3dWindow> windows_;  // co3d_vidfm3d_crop: the kept sequences' windows
  std::vector<RejectedSequence> rejected_;     // co3d_vidfm3d_crop: the others, as judged
};

}  // namespace

std::unique_ptr<Dataset> open_co3d_dataset(const fs::path& root, const DatasetOptions& options) {
  return std::make_unique<Co3dDataset>(root, options);
}

}  // namespace vidprobe
