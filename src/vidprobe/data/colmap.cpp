#include "vidprobe/data/colmap.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"

namespace vidprobe {

namespace fs = std::filesystem;

namespace {

struct ModelInfo {
  int id;
  const char* name;
  int num_params;
};

// COLMAP's camera model table (src/colmap/sensor/models.h): binary files store the id, text
// files the name; the parameter count is needed to parse either.
constexpr ModelInfo kModels[] = {
    {0, "SIMPLE_PINHOLE", 3},
    {1, "PINHOLE", 4},
    {2, "SIMPLE_RADIAL", 4},
    {3, "RADIAL", 5},
    {4, "OPENCV", 8},
    {5, "OPENCV_FISHEYE", 8},
    {6, "FULL_OPENCV", 12},
    {7, "FOV", 5},
    {8, "SIMPLE_RADIAL_FISHEYE", 4},
    {9, "RADIAL_FISHEYE", 5},
    {10, "THIN_PRISM_FISHEYE", 12},
    {11, "RAD_TAN_THIN_PRISM_FISHEYE", 16},
};

const ModelInfo& model_by_name(const std::string& name, const std::string& context) {
  for (const auto& model : kModels)
    if (name == model.name) return model;
  throw Error(context + ": unknown COLMAP camera model '" + name + "'");
}

const ModelInfo& model_by_id(int id, const std::string& context) {
  for (const auto& model : kModels)
    if (id == model.id) return model;
  throw Error(context + ": unknown COLMAP camera model id " + std::to_string(id));
}

void sort_and_check(ColmapModel& model, const std::string& images_file) {
  std::sort(model.images.begin(), model.images.end(),
            [](const ColmapImage& a, const ColmapImage& b) { return a.name < b.name; });
  for (const auto& image : model.images)
    require(model.cameras.contains(image.camera_id), images_file + ": image '" + image.name +
                                                         "' references missing camera " +
                                                         std::to_string(image.camera_id));
}

// --- text -------------------------------------------------------------------------------------

bool is_content_line(const std::string& line) {
  const auto first = line.find_first_not_of(" \t\r");
  return first != std::string::npos && line[first] != '#';
}

// Calls parse(fields, context) for each record of a COLMAP text file: a content line (not blank,
// not a # comment), plus with skip_next the line after it (images.txt's 2D points, maybe empty).
// context is "file:line" for errors.
template <typename Parse>
void for_each_text_record(const fs::path& path, bool skip_next, Parse&& parse) {
  std::ifstream in(path);
  require(in.good(), "cannot open " + path.string());
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (!is_content_line(line)) continue;
    std::istringstream fields(line);
    parse(fields, path.string() + ":" + std::to_string(line_number));
    if (skip_next && std::getline(in, line)) ++line_number;
  }
}

// An image width or height as stored (text: a signed number, binary: uint64), refused when it
// does not fit a positive int (a cast would wrap 4294967312 to 16).
template <typename Integer>
int image_side(Integer value, const std::string& context) {
  require(value > 0 && static_cast<std::uint64_t>(value) <= (1u << 20),
          context + ": image size " + std::to_string(value) + " is not in 1..1048576");
  return static_cast<int>(value);
}

// Ids name records: a second record with the same id would silently replace or shadow the first.
void add_camera(ColmapModel& model, ColmapCamera camera, const std::string& context) {
  require(!model.cameras.contains(camera.id),
          context + ": camera id " + std::to_string(camera.id) + " appears twice");
  model.cameras[camera.id] = std::move(camera);
}

void add_image(ColmapModel& model, ColmapImage image, const std::string& context) {
  for (const auto& other : model.images)
    require(other.id != image.id,
            context + ": image id " + std::to_string(image.id) + " appears twice");
  model.images.push_back(std::move(image));
}

void read_cameras_text(const fs::path& path, ColmapModel& model) {
  for_each_text_record(path, false, [&](std::istringstream& fields, const std::string& context) {
    ColmapCamera camera;
    long long width = 0, height = 0;
    require(static_cast<bool>(fields >> camera.id >> camera.model >> width >> height),
            context + ": expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...");
    const ModelInfo& info = model_by_name(camera.model, context);
    camera.width = image_side(width, context);
    camera.height = image_side(height, context);
    camera.params.resize(static_cast<std::size_t>(info.num_params));
    for (auto& param : camera.params)
      require(static_cast<bool>(fields >> param), context + ": model " + camera.model + " needs " +
                                                      std::to_string(info.num_params) + " params");
    add_camera(model, std::move(camera), context);
  });
}

void read_images_text(const fs::path& path, ColmapModel& model) {
  for_each_text_record(path, true, [&](std::istringstream& fields, const std::string& context) {
    ColmapImage image;
    require(static_cast<bool>(fields >> image.id >> image.qvec[0] >> image.qvec[1] >>
                              image.qvec[2] >> image.qvec[3] >> image.tvec[0] >> image.tvec[1] >>
                              image.tvec[2] >> image.camera_id >> image.name),
            context + ": expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME");
    add_image(model, std::move(image), context);
  });
}

// --- binary -----------------------------------------------------------------------------------

class BinaryReader {
 public:
  explicit BinaryReader(const fs::path& path) : path_(path), bytes_(read_file(path)) {}

  template <typename T>
  T read(const char* what) {
    require(offset_ + sizeof(T) <= bytes_.size(), path_.string() + ": truncated while reading " +
                                                      what + " at byte " + std::to_string(offset_));
    T value;
    std::memcpy(&value, bytes_.data() + offset_, sizeof(T));  // files are little-endian
    offset_ += sizeof(T);
    return value;
  }

  std::string read_string(const char* what) {
    const auto end = bytes_.find('\0', offset_);
    require(end != std::string::npos, path_.string() + ": truncated (unterminated " + what + ")");
    std::string value = bytes_.substr(offset_, end - offset_);
    offset_ = end + 1;
    return value;
  }

  void skip(std::uint64_t count, const char* what) {
    require(count <= bytes_.size() - offset_,
            path_.string() + ": truncated while skipping " + what);
    offset_ += count;
  }

  const fs::path& path() const { return path_; }

  // Bytes after the last record mean the count and the records disagree.
  void require_end() const {
    require(offset_ == bytes_.size(), path_.string() + ": " +
                                          std::to_string(bytes_.size() - offset_) +
                                          " bytes after the last record");
  }

 private:
  fs::path path_;
  std::string bytes_;
  std::size_t offset_ = 0;
};

void read_cameras_binary(const fs::path& path, ColmapModel& model) {
  BinaryReader in(path);
  const auto count = in.read<std::uint64_t>("camera count");
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string context = path.string() + ": camera record " + std::to_string(i);
    ColmapCamera camera;
    camera.id = in.read<std::uint32_t>("camera id");
    const ModelInfo& info = model_by_id(in.read<std::int32_t>("model id"), context);
    camera.model = info.name;
    camera.width = image_side(in.read<std::uint64_t>("width"), context);
    camera.height = image_side(in.read<std::uint64_t>("height"), context);
    for (int p = 0; p < info.num_params; ++p) camera.params.push_back(in.read<double>("params"));
    add_camera(model, std::move(camera), context);
  }
  in.require_end();
}

void read_images_binary(const fs::path& path, ColmapModel& model) {
  BinaryReader in(path);
  const auto count = in.read<std::uint64_t>("image count");
  for (std::uint64_t i = 0; i < count; ++i) {
    ColmapImage image;
    image.id = in.read<std::uint32_t>("image id");
    for (auto& q : image.qvec) q = in.read<double>("qvec");
    for (auto& t : image.tvec) t = in.read<double>("tvec");
    image.camera_id = in.read<std::uint32_t>("camera id");
    image.name = in.read_string("image name");
    const auto points = in.read<std::uint64_t>("point count");
    // Each 2D point: x, y (double) and a 3D point id (int64).
    constexpr std::uint64_t kPointBytes = 2 * sizeof(double) + sizeof(std::int64_t);
    require(points <= std::numeric_limits<std::uint64_t>::max() / kPointBytes,
            path.string() + ": implausible 2D point count for image '" + image.name + "'");
    in.skip(points * kPointBytes, "2D points");
    add_image(model, std::move(image), path.string() + ": image record " + std::to_string(i));
  }
  in.require_end();
}

template <typename T>
void append(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

std::string format_double(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

}  // namespace

ColmapModel read_colmap_text(const fs::path& dir) {
  ColmapModel model;
  read_cameras_text(dir / "cameras.txt", model);
  read_images_text(dir / "images.txt", model);
  sort_and_check(model, (dir / "images.txt").string());
  return model;
}

ColmapModel read_colmap_binary(const fs::path& dir) {
  ColmapModel model;
  read_cameras_binary(dir / "cameras.bin", model);
  read_images_binary(dir / "images.bin", model);
  sort_and_check(model, (dir / "images.bin").string());
  return model;
}

ColmapModel read_colmap_model(const fs::path& dir) {
  if (fs::exists(dir / "cameras.bin") && fs::exists(dir / "images.bin"))
    return read_colmap_binary(dir);
  if (fs::exists(dir / "cameras.txt") && fs::exists(dir / "images.txt"))
    return read_colmap_text(dir);
  throw Error("no COLMAP model in " + dir.string() +
              " (needs cameras.bin + images.bin or cameras.txt + images.txt)");
}

void write_colmap_text(const fs::path& dir, const ColmapModel& model) {
  fs::create_directories(dir);
  std::string cameras =
      "# Camera list with one line of data per camera:\n"
      "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n";
  for (const auto& [id, camera] : model.cameras) {
    cameras += std::to_string(id) + " " + camera.model + " " + std::to_string(camera.width) + " " +
               std::to_string(camera.height);
    for (const double p : camera.params) cameras += " " + format_double(p);
    cameras += "\n";
  }
  write_file_atomically(dir / "cameras.txt", cameras);
  std::string images =
      "# Image list with two lines of data per image:\n"
      "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n"
      "#   POINTS2D[] as (X, Y, POINT3D_ID)\n";
  for (const auto& image : model.images) {
    images += std::to_string(image.id);
    for (const double q : image.qvec) images += " " + format_double(q);
    for (const double t : image.tvec) images += " " + format_double(t);
    images += " " + std::to_string(image.camera_id) + " " + image.name + "\n\n";
  }
  write_file_atomically(dir / "images.txt", images);
}

void write_colmap_binary(const fs::path& dir, const ColmapModel& model) {
  fs::create_directories(dir);
  std::string cameras;
  append<std::uint64_t>(cameras, model.cameras.size());
  for (const auto& [id, camera] : model.cameras) {
    const ModelInfo& info = model_by_name(camera.model, "write_colmap_binary");
    require(static_cast<int>(camera.params.size()) == info.num_params,
            "write_colmap_binary: camera " + std::to_string(id) + " has " +
                std::to_string(camera.params.size()) + " params, model " + camera.model +
                " needs " + std::to_string(info.num_params));
    append<std::uint32_t>(cameras, id);
    append<std::int32_t>(cameras, info.id);
    append<std::uint64_t>(cameras, static_cast<std::uint64_t>(camera.width));
    append<std::uint64_t>(cameras, static_cast<std::uint64_t>(camera.height));
    for (const double p : camera.params) append<double>(cameras, p);
  }
  write_file_atomically(dir / "cameras.bin", cameras);
  std::string images;
  append<std::uint64_t>(images, model.images.size());
  for (const auto& image : model.images) {
    append<std::uint32_t>(images, image.id);
    for (const double q : image.qvec) append<double>(images, q);
    for (const double t : image.tvec) append<double>(images, t);
    append<std::uint32_t>(images, image.camera_id);
    images += image.name;
    images += '\0';
    append<std::uint64_t>(images, 0);
  }
  write_file_atomically(dir / "images.bin", images);
}

bool ColmapIntrinsics::has_distortion() const {
  return std::any_of(distortion.begin(), distortion.end(), [](double d) { return d != 0.0; });
}

ColmapIntrinsics colmap_intrinsics(const ColmapCamera& camera) {
  const auto& p = camera.params;
  const std::string context = "COLMAP camera " + std::to_string(camera.id);
  const ModelInfo& info = model_by_name(camera.model, context);
  require(static_cast<int>(p.size()) == info.num_params,
          context + ": model " + camera.model + " needs " + std::to_string(info.num_params) +
              " params, got " + std::to_string(p.size()));
  ColmapIntrinsics out;
  const std::string& model = camera.model;
  if (model == "SIMPLE_PINHOLE" || model == "SIMPLE_RADIAL" || model == "RADIAL") {
    out.fx = out.fy = p[0];
    out.cx = p[1];
    out.cy = p[2];
    out.distortion.assign(p.begin() + 3, p.end());
  } else if (model == "PINHOLE" || model == "OPENCV" || model == "FULL_OPENCV") {
    out.fx = p[0];
    out.fy = p[1];
    out.cx = p[2];
    out.cy = p[3];
    out.distortion.assign(p.begin() + 4, p.end());
  } else {
    throw Error(context + ": unsupported camera model '" + model +
                "' (supported: SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, OPENCV, "
                "FULL_OPENCV)");
  }
  return out;
}

std::array<double, 9> quaternion_to_rotation(const std::array<double, 4>& qvec) {
  const double norm =
      std::sqrt(qvec[0] * qvec[0] + qvec[1] * qvec[1] + qvec[2] * qvec[2] + qvec[3] * qvec[3]);
  require(norm > 0.0, "quaternion of zero length");
  const double w = qvec[0] / norm, x = qvec[1] / norm, y = qvec[2] / norm, z = qvec[3] / norm;
  return {1 - 2 * (y * y + z * z), 2 * (x * y - w * z),     2 * (x * z + w * y),
          2 * (x * y + w * z),     1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
          2 * (x * z - w * y),     2 * (y * z + w * x),     1 - 2 * (x * x + y * y)};
}

Camera colmap_camera(const ColmapCamera& camera, const ColmapImage& image) {
  const ColmapIntrinsics intrinsics = colmap_intrinsics(camera);
  Camera out;
  out.width = camera.width;
  out.height = camera.height;
  // COLMAP puts the top-left pixel's centre at (0.5, 0.5); ours is at (0, 0).
  out.K = {intrinsics.fx, 0.0, intrinsics.cx - 0.5, 0.0, intrinsics.fy, intrinsics.cy - 0.5, 0.0,
           0.0,           1.0};
  const auto R = quaternion_to_rotation(image.qvec);
  for (int row = 0; row < 3; ++row) {
    for (int col = 0; col < 3; ++col)
      out.cam_from_world[static_cast<std::size_t>(row * 4 + col)] =
          R[static_cast<std::size_t>(row * 3 + col)];
    out.cam_from_world[static_cast<std::size_t>(row * 4 + 3)] =
        image.tvec[static_cast<std::size_t>(row)];
  }
  return out;
}

}  // namespace vidprobe
