#include "vidprobe/data/dl3dv.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/data/colmap.h"
#include "vidprobe/data/split.h"
#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/image.h"

namespace vidprobe {

namespace fs = std::filesystem;

namespace {

using Matrix3 = std::array<double, 9>;

bool is_orthonormal(const Matrix3& m, double tolerance) {
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double dot = 0.0;
      for (int k = 0; k < 3; ++k)
        dot += m[static_cast<std::size_t>(k * 3 + i)] * m[static_cast<std::size_t>(k * 3 + j)];
      if (std::abs(dot - (i == j ? 1.0 : 0.0)) > tolerance) return false;
    }
  return true;
}

}  // namespace

std::array<double, 12> opengl_c2w_to_cam_from_world(const std::array<double, 16>& c2w,
                                                    const std::array<double, 12>* applied_transform,
                                                    const std::string& context) {
  // OpenGL camera axes (x right, y up, z backward) -> OpenCV (x right, y down, z forward):
  // negate the second and third columns of the camera-to-world rotation.
  Matrix3 rotation{};
  std::array<double, 3> centre{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c)
      rotation[static_cast<std::size_t>(r * 3 + c)] =
          (c == 0 ? 1.0 : -1.0) * c2w[static_cast<std::size_t>(r * 4 + c)];
    centre[static_cast<std::size_t>(r)] = c2w[static_cast<std::size_t>(r * 4 + 3)];
  }
  // Loose tolerance: the files store float32-rounded matrices.
  require(is_orthonormal(rotation, 1e-3),
          context + ": transform_matrix rotation part is not orthonormal");
  if (applied_transform) {
    Matrix3 a{};
    std::array<double, 3> offset{};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c)
        a[static_cast<std::size_t>(r * 3 + c)] =
            (*applied_transform)[static_cast<std::size_t>(r * 4 + c)];
      offset[static_cast<std::size_t>(r)] =
          (*applied_transform)[static_cast<std::size_t>(r * 4 + 3)];
    }
    require(is_orthonormal(a, 1e-6),
            context + ": key 'applied_transform' is not a rotation + translation");
    // x_orig = A^T (x_ns - offset) for points; rotations compose as A^T R.
    Matrix3 undone{};
    std::array<double, 3> undone_centre{};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c)
        for (int k = 0; k < 3; ++k)
          undone[static_cast<std::size_t>(r * 3 + c)] +=
              a[static_cast<std::size_t>(k * 3 + r)] *
              rotation[static_cast<std::size_t>(k * 3 + c)];
      for (int k = 0; k < 3; ++k)
        undone_centre[static_cast<std::size_t>(r)] +=
            a[static_cast<std::size_t>(k * 3 + r)] *
            (centre[static_cast<std::size_t>(k)] - offset[static_cast<std::size_t>(k)]);
    }
    rotation = undone;
    centre = undone_centre;
  }
  // cam_from_world = [R^T | -R^T C].
  std::array<double, 12> out{};
  for (int r = 0; r < 3; ++r) {
    double t = 0.0;
    for (int c = 0; c < 3; ++c) {
      const double value = rotation[static_cast<std::size_t>(c * 3 + r)];
      out[static_cast<std::size_t>(r * 4 + c)] = value;
      t -= value * centre[static_cast<std::size_t>(c)];
    }
    out[static_cast<std::size_t>(r * 4 + 3)] = t;
  }
  return out;
}

namespace {

struct Dl3dvFrameRecord {
  std::string image_name;  // file name inside the chosen images folder
  Camera camera;           // at the reference (full) resolution of the camera source
};

struct Dl3dvScene {
  fs::path dir;
  fs::path image_dir;
  std::string camera_source;  // "transforms.json" or the COLMAP model folder
  std::vector<Dl3dvFrameRecord> frames;
  nlohmann::json ignored_distortion;  // null when the cameras are pure pinhole
};

std::optional<fs::path> colmap_dir(const fs::path& scene) {
  for (const auto& candidate : {scene / "sparse" / "0", scene / "colmap" / "sparse" / "0"})
    if (fs::exists(candidate / "cameras.bin") || fs::exists(candidate / "cameras.txt"))
      return candidate;
  return std::nullopt;
}

bool is_scene(const fs::path& dir) {
  return fs::exists(dir / "transforms.json") || colmap_dir(dir).has_value();
}

constexpr const char* kDistortionKeys[] = {"k1", "k2", "k3", "k4", "p1", "p2"};

// Intrinsics of a nerfstudio record (the file's top level, possibly overridden per frame).
struct NerfstudioIntrinsics {
  double fx = 0, fy = 0, cx = 0, cy = 0;
  int w = 0, h = 0;
  std::string model = "OPENCV";
  nlohmann::json distortion = nlohmann::json::object();
};

void read_intrinsics(const nlohmann::json& obj, NerfstudioIntrinsics& intrinsics,
                     const std::string& context) {
  intrinsics.fx = json_get_or<double>(obj, "fl_x", intrinsics.fx, context);
  intrinsics.fy = json_get_or<double>(obj, "fl_y", intrinsics.fy, context);
  intrinsics.cx = json_get_or<double>(obj, "cx", intrinsics.cx, context);
  intrinsics.cy = json_get_or<double>(obj, "cy", intrinsics.cy, context);
  intrinsics.w = json_get_or<int>(obj, "w", intrinsics.w, context);
  intrinsics.h = json_get_or<int>(obj, "h", intrinsics.h, context);
  intrinsics.model = json_get_or<std::string>(obj, "camera_model", intrinsics.model, context);
  for (const char* key : kDistortionKeys)
    if (obj.contains(key) && !obj[key].is_null())
      intrinsics.distortion[key] = json_get<double>(obj, key, context);
}

template <std::size_t N>
std::array<double, N> flatten_matrix(const nlohmann::json& obj, std::string_view key, int rows,
                                     int cols, const std::string& context) {
  const auto values = json_get<std::vector<std::vector<double>>>(obj, key, context);
  require(static_cast<int>(values.size()) >= rows,
          context + ": key '" + std::string(key) + "' must have " + std::to_string(rows) + " rows");
  std::array<double, N> out{};
  for (int r = 0; r < rows; ++r) {
    const auto& row = values[static_cast<std::size_t>(r)];
    require(static_cast<int>(row.size()) == cols, context + ": key '" + std::string(key) +
                                                      "' rows must have " + std::to_string(cols) +
                                                      " entries");
    for (int c = 0; c < cols; ++c)
      out[static_cast<std::size_t>(r * cols + c)] = row[static_cast<std::size_t>(c)];
  }
  return out;
}

Camera camera_from_intrinsics(const NerfstudioIntrinsics& intrinsics, const std::string& context) {
  require(intrinsics.fx > 0 && intrinsics.fy > 0,
          context + ": keys 'fl_x' and 'fl_y' must be present and positive");
  require(intrinsics.w > 0 && intrinsics.h > 0,
          context + ": keys 'w' and 'h' must be present and positive");
  require(intrinsics.model == "OPENCV" || intrinsics.model == "PINHOLE" ||
              intrinsics.model == "SIMPLE_PINHOLE",
          context + ": unsupported camera_model '" + intrinsics.model +
              "' (supported: OPENCV, PINHOLE, SIMPLE_PINHOLE)");
  Camera camera;
  camera.width = intrinsics.w;
  camera.height = intrinsics.h;
  // nerfstudio, like COLMAP, puts the top-left pixel's centre at (0.5, 0.5); ours is (0, 0).
  camera.K = {intrinsics.fx, 0.0, intrinsics.cx - 0.5, 0.0, intrinsics.fy, intrinsics.cy - 0.5, 0.0,
              0.0,           1.0};
  return camera;
}

bool has_nonzero(const nlohmann::json& distortion) {
  for (const auto& [key, value] : distortion.items())
    if (value.is_number() && value.get<double>() != 0.0) return true;
  return false;
}

void read_transforms(const fs::path& path, bool undo_applied_transform, Dl3dvScene& scene) {
  const nlohmann::json json = read_json_file(path);
  const std::string file = path.string();
  NerfstudioIntrinsics shared;
  read_intrinsics(json, shared, file);
  std::optional<std::array<double, 12>> applied;
  if (undo_applied_transform && json.contains("applied_transform"))
    applied = flatten_matrix<12>(json, "applied_transform", 3, 4, file);
  const auto& frames = json_field(json, "frames", file);
  require(frames.is_array() && !frames.empty(), file + ": key 'frames' must be a non-empty list");
  nlohmann::json distortion = nlohmann::json::object();
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const std::string context = file + ": frames[" + std::to_string(i) + "]";
    NerfstudioIntrinsics intrinsics = shared;
    read_intrinsics(frames[i], intrinsics, context);
    Dl3dvFrameRecord record;
    record.image_name =
        fs::path(json_get<std::string>(frames[i], "file_path", context)).filename().string();
    record.camera = camera_from_intrinsics(intrinsics, context);
    const auto c2w = flatten_matrix<16>(frames[i], "transform_matrix", 4, 4, context);
    record.camera.cam_from_world = opengl_c2w_to_cam_from_world(c2w, applied ? &*applied : nullptr,
                                                                context + ".transform_matrix");
    if (has_nonzero(intrinsics.distortion)) distortion = intrinsics.distortion;
    scene.frames.push_back(std::move(record));
  }
  if (has_nonzero(distortion)) scene.ignored_distortion = distortion;
  scene.camera_source = "transforms.json";
}

void read_colmap(const fs::path& dir, Dl3dvScene& scene) {
  const ColmapModel model = read_colmap_model(dir);
  require(!model.images.empty(), dir.string() + ": COLMAP model has no images");
  for (const auto& image : model.images) {
    const ColmapCamera& camera = model.cameras.at(image.camera_id);
    Dl3dvFrameRecord record;
    record.image_name = fs::path(image.name).filename().string();
    ColmapIntrinsics intrinsics;
    try {
      intrinsics = colmap_intrinsics(camera);
      record.camera = colmap_camera(camera, image);
    } catch (const Error& e) {
      // The conversions know the record, not the file: name both (binary is read when present).
      const auto file = [&](const std::string& stem) {
        const auto binary = dir / (stem + ".bin");
        return (fs::exists(binary) ? binary : dir / (stem + ".txt")).string();
      };
      throw Error(file("images") + " image '" + image.name + "' with camera " +
                  std::to_string(image.camera_id) + " of " + file("cameras") + ": " + e.what());
    }
    if (intrinsics.has_distortion())
      scene.ignored_distortion = {{"model", camera.model}, {"coefficients", intrinsics.distortion}};
    scene.frames.push_back(std::move(record));
  }
  scene.camera_source = fs::relative(dir, scene.dir).generic_string();
}

fs::path choose_image_dir(const fs::path& scene, int downscale) {
  const auto folder = [&](int factor) {
    return scene / (factor == 1 ? std::string("images") : "images_" + std::to_string(factor));
  };
  if (downscale > 0) {
    const fs::path dir = folder(downscale);
    require(fs::is_directory(dir), "DL3DV scene " + scene.string() + ": no folder " +
                                       dir.filename().string() + " for dl3dv_downscale " +
                                       std::to_string(downscale));
    return dir;
  }
  for (const int factor : {1, 2, 4, 8})
    if (fs::is_directory(folder(factor))) return folder(factor);
  throw Error("DL3DV scene " + scene.string() + ": no images/ or images_{2,4,8}/ folder");
}

class Dl3dvDataset final : public Dataset {
 public:
  Dl3dvDataset(const fs::path& root, const DatasetOptions& options) : Dataset(root, options) {
    require(fs::is_directory(root), "DL3DV root is not a directory: " + root.string());
    require(
        options.dl3dv_cameras == "auto" || options.dl3dv_cameras == "transforms" ||
            options.dl3dv_cameras == "colmap",
        "dl3dv_cameras must be auto, transforms or colmap, got '" + options.dl3dv_cameras + "'");
    require(
        options.dl3dv_downscale == 0 || options.dl3dv_downscale == 1 ||
            options.dl3dv_downscale == 2 || options.dl3dv_downscale == 4 ||
            options.dl3dv_downscale == 8,
        "dl3dv_downscale must be 0, 1, 2, 4 or 8, got " + std::to_string(options.dl3dv_downscale));
    std::vector<std::string> ids;
    if (is_scene(root)) {
      scene_dirs_[root.filename().string()] = root;
    } else {
      for (const auto& level1 : fs::directory_iterator(root)) {
        if (!level1.is_directory()) continue;
        if (is_scene(level1.path())) {
          scene_dirs_[level1.path().filename().string()] = level1.path();
          continue;
        }
        for (const auto& level2 : fs::directory_iterator(level1.path()))
          if (level2.is_directory() && is_scene(level2.path()))
            scene_dirs_[fs::relative(level2.path(), root).generic_string()] = level2.path();
      }
    }
    require(!scene_dirs_.empty(), "DL3DV root " + root.string() +
                                      " has no scene folder with transforms.json or sparse/0");
    for (const auto& [id, dir] : scene_dirs_) ids.push_back(id);
    if (options.max_sequences > 0 && ids.size() > options.max_sequences)
      ids.resize(options.max_sequences);
    set_sequences(
        hash_split(std::move(ids), options.split, options.train_ratio, options.split_seed));
  }

  std::string kind() const override { return "dl3dv"; }

  int num_frames(const std::string& sequence) const override {
    return static_cast<int>(scene(sequence)->frames.size());
  }

  std::vector<Frame> load_frames(const std::string& sequence,
                                 std::span<const int> indices) const override {
    const auto record = scene(sequence);
    std::vector<Frame> frames;
    frames.reserve(indices.size());
    for (const int index : indices) {
      require(
          index >= 0 && static_cast<std::size_t>(index) < record->frames.size(),
          "DL3DV scene '" + sequence + "': frame index " + std::to_string(index) + " out of range");
      frames.push_back(load_frame(*record, record->frames[static_cast<std::size_t>(index)]));
    }
    return frames;
  }

 protected:
  nlohmann::json sequence_meta(const std::string& sequence) const override {
    const auto record = scene(sequence);
    nlohmann::json meta = {{"camera_source", record->camera_source},
                           {"image_dir", record->image_dir.filename().string()}};
    if (!record->ignored_distortion.is_null())
      meta["ignored_distortion"] = record->ignored_distortion;
    if (!options().depth_dir.empty()) meta["depth_dir"] = options().depth_dir;
    return meta;
  }

 private:
  std::shared_ptr<const Dl3dvScene> scene(const std::string& sequence) const {
    require_sequence(sequence);
    std::lock_guard lock(mutex_);
    if (auto it = scenes_.find(sequence); it != scenes_.end()) return it->second;
    auto record = std::make_shared<Dl3dvScene>();
    record->dir = scene_dirs_.at(sequence);
    const auto& cameras = options().dl3dv_cameras;
    const bool has_transforms = fs::exists(record->dir / "transforms.json");
    const auto colmap = colmap_dir(record->dir);
    if (cameras == "transforms" || (cameras == "auto" && has_transforms)) {
      require(has_transforms, "DL3DV scene " + record->dir.string() + ": no transforms.json");
      read_transforms(record->dir / "transforms.json", options().dl3dv_undo_applied_transform,
                      *record);
    } else {
      require(colmap.has_value(), "DL3DV scene " + record->dir.string() +
                                      ": no COLMAP model in sparse/0 or colmap/sparse/0");
      read_colmap(*colmap, *record);
    }
    std::sort(record->frames.begin(), record->frames.end(),
              [](const auto& a, const auto& b) { return a.image_name < b.image_name; });
    record->image_dir = choose_image_dir(record->dir, options().dl3dv_downscale);
    if (!record->ignored_distortion.is_null())
      std::cerr << "warning: DL3DV scene " << sequence << ": lens distortion "
                << record->ignored_distortion.dump() << " from " << record->camera_source
                << " is ignored (frames are treated as pinhole)\n";
    scenes_[sequence] = record;
    return record;
  }

  Frame load_frame(const Dl3dvScene& scene_record, const Dl3dvFrameRecord& record) const {
    Frame frame;
    const fs::path image_path = scene_record.image_dir / record.image_name;
    require(fs::exists(image_path), "DL3DV image not found: " + image_path.string() + " (from " +
                                        scene_record.camera_source + ")");
    frame.source = image_path.string();
    frame.rgb = read_rgb(image_path);
    const double sx = static_cast<double>(frame.rgb.width) / record.camera.width;
    const double sy = static_cast<double>(frame.rgb.height) / record.camera.height;
    // A downscaled folder rounds sizes to whole pixels, so the two factors differ by at most
    // about one pixel's worth; anything more means the image does not belong to the camera.
    require(std::abs(sx - sy) * std::max(record.camera.width, record.camera.height) <=
                2.0 * std::max(sx, sy) + 1.0,
            image_path.string() + ": image is " + std::to_string(frame.rgb.width) + "x" +
                std::to_string(frame.rgb.height) + ", not a downscale of the camera's " +
                std::to_string(record.camera.width) + "x" + std::to_string(record.camera.height) +
                " from " + scene_record.camera_source);
    frame.camera =
        (frame.rgb.width == record.camera.width && frame.rgb.height == record.camera.height)
            ? record.camera
            : scale_camera(record.camera, frame.rgb.width, frame.rgb.height);
    const int width = frame.rgb.width, height = frame.rgb.height;
    if (options().depth_dir.empty()) {
      frame.depth = ImageF32(width, height, 1, 0.0f);
      frame.valid = ImageU8(width, height, 1, 0);
      return frame;
    }
    const fs::path depth_dir = scene_record.dir / options().depth_dir;
    const std::string stem = fs::path(record.image_name).stem().string();
    const fs::path depth_path = depth_dir / (stem + ".depth.f32");
    const fs::path valid_path = depth_dir / (stem + ".valid.png");
    require(fs::exists(depth_path), "DL3DV depth not found: " + depth_path.string());
    require(fs::exists(valid_path), "DL3DV valid mask not found: " + valid_path.string());
    frame.depth = read_depth_f32(depth_path, width, height);
    const ImageU8 valid = read_png_u8(valid_path);
    require(valid.width == width && valid.height == height,
            valid_path.string() + ": mask is " + std::to_string(valid.width) + "x" +
                std::to_string(valid.height) + " but the image is " + std::to_string(width) + "x" +
                std::to_string(height));
    frame.valid = ImageU8(width, height, 1, 0);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const bool ok = valid.at(x, y, 0) != 0 && std::isfinite(frame.depth.at(x, y)) &&
                        frame.depth.at(x, y) > 0.0f;
        frame.valid.at(x, y) = ok ? 1 : 0;
        if (!ok) frame.depth.at(x, y) = 0.0f;
      }
    return frame;
  }

  std::map<std::string, fs::path> scene_dirs_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const Dl3dvScene>> scenes_;
};

}  // namespace

std::unique_ptr<Dataset> open_dl3dv_dataset(const fs::path& root, const DatasetOptions& options) {
  return std::make_unique<Dl3dvDataset>(root, options);
}

}  // namespace vidprobe
