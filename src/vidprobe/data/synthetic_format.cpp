#include "vidprobe/data/synthetic_format.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <span>
#include <thread>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/cpu_cores.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/io/checksum.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/io/image.h"

namespace vidprobe {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kClipJson = "clip.json";

std::string quoted(const fs::path& path) {
  return "'" + path.string() + "'";
}

std::string frame_stem(std::size_t index) {
  char name[16];
  std::snprintf(name, sizeof name, "%06zu", index);
  return name;
}

// Float32 maps are stored little-endian: between that and the machine's order, either way.
void swap_float_bytes_on_big_endian(std::span<std::byte> bytes) {
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t i = 0; i < bytes.size(); i += 4)
      std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(i),
                   bytes.begin() + static_cast<std::ptrdiff_t>(i + 4));
  }
}

std::string depth_bytes(const ImageF32& depth) {
  std::string bytes(depth.pixels.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), depth.pixels.data(), bytes.size());
  swap_float_bytes_on_big_endian(std::as_writable_bytes(std::span(bytes)));
  return bytes;
}

// The map's bytes as stored (little-endian float32), read straight into it: a frame's depth is
// megabytes, so not through a string and a copy. The map is allocated before the file's size is
// known, so width x height must be bounded already (every caller takes them from the decoded RGB
// frame).
ImageF32 read_f32_map_as_stored(const fs::path& path, int width, int height) {
  ImageF32 map(width, height, 1, kUninitialised);  // filled by the read, or refused
  const auto bytes = std::as_writable_bytes(std::span(map.pixels));
  const auto size = read_file_into(path, bytes);
  require(size == bytes.size(), [&] {
    return "depth file " + quoted(path) + " has " + std::to_string(size) + " bytes, expected " +
           std::to_string(bytes.size()) + " (" + std::to_string(width) + " x " +
           std::to_string(height) + " float32)";
  });
  return map;
}

void check_frame_shapes(const Frame& frame, std::size_t index, const std::string& clip_id) {
  const std::string where = "clip '" + clip_id + "' frame " + std::to_string(index);
  const int w = frame.camera.width, h = frame.camera.height;
  require(w > 0 && h > 0, where + ": camera has no size");
  require(frame.rgb.width == w && frame.rgb.height == h && frame.rgb.channels == 3,
          where + ": rgb must be " + std::to_string(w) + " x " + std::to_string(h) + " x 3");
  require(frame.depth.width == w && frame.depth.height == h && frame.depth.channels == 1,
          where + ": depth must be " + std::to_string(w) + " x " + std::to_string(h) + " x 1");
  require(frame.valid.width == w && frame.valid.height == h && frame.valid.channels == 1,
          where + ": valid mask must be " + std::to_string(w) + " x " + std::to_string(h) + " x 1");
  require(
      frame.confidence.empty() || (frame.confidence.width == w && frame.confidence.height == h &&
                                   frame.confidence.channels == 1),
      where + ": confidence must be empty or " + std::to_string(w) + " x " + std::to_string(h) +
          " x 1");
}

// A clip's frames all carry a confidence or none does: a loss weighted by it on some frames and
// by the valid mask on others would mix two scales.
bool clip_has_confidence(const Clip& clip) {
  const auto has = [](const Frame& frame) { return !frame.confidence.empty(); };
  const bool any = std::any_of(clip.frames.begin(), clip.frames.end(), has);
  require(!any || std::all_of(clip.frames.begin(), clip.frames.end(), has),
          "clip '" + clip.id + "': some frames have a confidence map and some do not");
  return any;
}

template <std::size_t N>
json array_json(const std::array<double, N>& values) {
  return json(std::vector<double>(values.begin(), values.end()));
}

template <std::size_t N>
std::array<double, N> array_from_json(const json& value, const std::string& key,
                                      const fs::path& file) {
  require(value.is_array() && value.size() == N, "key '" + key + "' in " + quoted(file) +
                                                     " must be an array of " + std::to_string(N) +
                                                     " numbers");
  std::array<double, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    require(value[i].is_number(), "key '" + key + "' in " + quoted(file) + " has a non-number");
    out[i] = value[i].get<double>();
    require(std::isfinite(out[i]), "key '" + key + "' in " + quoted(file) + " is not finite");
  }
  return out;
}

// Runs job(i) for i in [0, count) on up to this process's cores; rethrows the first
// failure. Output does not depend on the thread count (each job writes its own files).
void parallel_for(std::size_t count, const std::function<void(std::size_t)>& job) {
  const std::size_t workers = std::min(count, static_cast<std::size_t>(cores_for_this_process()));
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        job(i);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = count;
      }
    }
  };
  std::vector<std::jthread> threads;
  for (std::size_t t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  threads.clear();
  if (failure) std::rethrow_exception(failure);
}

const json& require_key(const json& object, const std::string& key, const fs::path& file) {
  require(object.is_object() && object.contains(key),
          "missing key '" + key + "' in " + quoted(file));
  return object.at(key);
}

}  // namespace

void write_depth_f32(const fs::path& path, const ImageF32& depth) {
  require(depth.channels == 1, "depth for " + quoted(path) + " must have one channel");
  write_file_atomically(path, depth_bytes(depth));
}

ImageF32 read_depth_f32(const fs::path& path, int width, int height) {
  ImageF32 map = read_f32_map_as_stored(path, width, height);
  swap_float_bytes_on_big_endian(std::as_writable_bytes(std::span(map.pixels)));
  return map;
}

void write_synthetic_clip(const fs::path& root, const Clip& clip) {
  require(!clip.id.empty() && clip.id.find('/') == std::string::npos &&
              clip.id.find(".tmp.") == std::string::npos && clip.id[0] != '.',
          "invalid clip id '" + clip.id + "'");
  for (std::size_t i = 0; i < clip.frames.size(); ++i)
    check_frame_shapes(clip.frames[i], i, clip.id);
  const bool with_confidence = clip_has_confidence(clip);

  write_directory_atomically(root / clip.id, [&](const fs::path& dir) {
    fs::create_directories(dir / "rgb");
    fs::create_directories(dir / "depth");
    fs::create_directories(dir / "mask");
    if (with_confidence) fs::create_directories(dir / "confidence");
    std::vector<json> frame_records(clip.frames.size());
    parallel_for(clip.frames.size(), [&](std::size_t i) {
      const Frame& frame = clip.frames[i];
      const std::string stem = frame_stem(i);
      const std::string rgb_name = "rgb/" + stem + ".png";
      const std::string depth_name = "depth/" + stem + ".f32";
      const std::string mask_name = "mask/" + stem + ".png";
      write_png(dir / rgb_name, frame.rgb);
      const std::string depth = depth_bytes(frame.depth);
      write_file_atomically(dir / depth_name, depth);
      ImageU8 mask(frame.valid.width, frame.valid.height, 1);
      for (std::size_t p = 0; p < mask.pixels.size(); ++p) {
        mask.pixels[p] = frame.valid.pixels[p] ? 255 : 0;
      }
      write_png(dir / mask_name, mask);
      frame_records[i] = json{{"index", i},
                              {"rgb", rgb_name},
                              {"depth", depth_name},
                              {"depth_crc32", crc32_of(depth)},
                              {"mask", mask_name},
                              {"width", frame.camera.width},
                              {"height", frame.camera.height},
                              {"K", array_json(frame.camera.K)},
                              {"cam_from_world", array_json(frame.camera.cam_from_world)}};
      if (!with_confidence) return;
      const std::string confidence_name = "confidence/" + stem + ".f32";
      const std::string confidence = depth_bytes(frame.confidence);
      write_file_atomically(dir / confidence_name, confidence);
      frame_records[i]["confidence"] = confidence_name;
      frame_records[i]["confidence_crc32"] = crc32_of(confidence);
    });
    const json document{
        {"format", kSyntheticFormatName},
        {"format_version", kSyntheticFormatVersion},
        {"id", clip.id},
        {"num_frames", clip.frames.size()},
        {"depth_encoding", "float32 little-endian, row-major, metres, z-depth"},
        {"camera_convention",
         "OpenCV camera (x right, y down, z forward); cam_from_world row-major 3x4; "
         "K row-major 3x3, pixel centres at integer coordinates"},
        {"meta", clip.meta},
        {"frames", frame_records}};
    write_file_atomically(dir / kClipJson, document.dump(1) + "\n");
  });
}

json read_synthetic_clip_json(const fs::path& clip_dir) {
  const fs::path file = clip_dir / kClipJson;
  require(fs::is_regular_file(file), "missing clip description " + quoted(file));
  json document;
  try {
    document = read_json_file(file);
  } catch (const json::exception& e) {
    throw Error("cannot parse " + quoted(file) + ": " + e.what());
  }
  const json& format = require_key(document, "format", file);
  require(format.is_string() && format.get<std::string>() == kSyntheticFormatName,
          quoted(file) + " is not a vidprobe synthetic clip (key 'format')");
  const json& version = require_key(document, "format_version", file);
  require(version.is_number_integer() && version.get<int>() == kSyntheticFormatVersion,
          quoted(file) + " has format_version " + version.dump() + ", this build reads version " +
              std::to_string(kSyntheticFormatVersion));
  return document;
}

namespace {

// A frame's file named by `key`: a relative path inside the clip's directory (an absolute path or
// one climbing out with '..' would read files of another clip or of the system).
fs::path file_in_clip(const fs::path& clip_dir, const json& record, const char* key,
                      const std::string& context) {
  const fs::path relative(json_get<std::string>(record, key, context));
  bool climbs = false;
  for (const auto& part : relative) climbs = climbs || part == "..";
  require(!relative.empty() && relative.is_relative() && !climbs,
          context + ": key '" + key + "' must be a path inside the clip's directory, got '" +
              relative.string() + "'");
  return clip_dir / relative;
}

// A float32 map of the frame's size whose CRC-32 the record holds under `crc_key`.
ImageF32 read_checked_f32(const fs::path& path, const json& record, const char* crc_key,
                          const Camera& camera, const fs::path& clip_json) {
  const auto expected_crc = json_get<std::uint32_t>(record, crc_key, quoted(clip_json));
  ImageF32 map = read_f32_map_as_stored(path, camera.width, camera.height);
  const auto crc = crc32_of(std::as_bytes(std::span(map.pixels)));  // of the bytes as stored
  swap_float_bytes_on_big_endian(std::as_writable_bytes(std::span(map.pixels)));
  require(crc == expected_crc, "file " + quoted(path) + " is corrupt (CRC-32 mismatch with key '" +
                                   crc_key + "' of " + quoted(clip_json) + ")");
  return map;
}

// The optional continuous confidence (clips written by `vidprobe annotate`): finite and >= 0, as
// a loss weight must be.
ImageF32 read_confidence(const fs::path& clip_dir, const json& record, const Camera& camera,
                         const fs::path& clip_json, const std::string& context) {
  const fs::path path = file_in_clip(clip_dir, record, "confidence", context);
  ImageF32 confidence = read_checked_f32(path, record, "confidence_crc32", camera, clip_json);
  for (std::size_t p = 0; p < confidence.pixels.size(); ++p) {
    const float c = confidence.pixels[p];
    require(std::isfinite(c) && c >= 0, [&] {
      return "confidence file " + quoted(path) + " has " + std::to_string(c) + " at pixel " +
             std::to_string(p) + " (a confidence must be finite and >= 0)";
    });
  }
  return confidence;
}

}  // namespace

namespace {

// The mask's pixels are 0 or 255 and agree with the depth (finite, >= 0, > 0 exactly where the
// mask is set): one pass without branches for the common case; a failure is located (and
// reported, the first pixel at fault) by the pixel-by-pixel check.
bool mask_agrees_with_depth(const ImageU8& mask, const ImageF32& depth) {
  constexpr float kInfinity = std::numeric_limits<float>::infinity();
  const std::uint8_t* masks = mask.pixels.data();
  const float* depths = depth.pixels.data();
  std::int32_t faults = 0;
  for (std::size_t p = 0; p < mask.pixels.size(); ++p) {
    // In float, so that every comparison has the depth's width and the loop vectorises.
    const float m = masks[p];
    const float z = depths[p];
    const bool set = m != 0.0f;
    // !(z >= 0): negative or NaN; !(z < inf): +inf or NaN.
    faults |= static_cast<std::int32_t>((set & (m != 255.0f)) | !(z >= 0.0f) | !(z < kInfinity) |
                                        (set != (z > 0.0f)));
  }
  return faults == 0;
}

// read_synthetic_clip; `wanted` (when given) lists the frames whose files are read, in order.
Clip read_clip(const fs::path& clip_dir, const std::span<const int>* wanted) {
  const fs::path file = clip_dir / kClipJson;
  const json document = read_synthetic_clip_json(clip_dir);
  Clip clip;
  std::vector<int> uses;  // per frame: how often `wanted` lists it
  try {
    clip.id = json_get<std::string>(document, "id", quoted(file));
    require(clip.id == clip_dir.filename().string(), quoted(file) + ": key 'id' is '" + clip.id +
                                                         "' but the clip's directory is '" +
                                                         clip_dir.filename().string() + "'");
    clip.meta = document.value("meta", json::object());
    const json& records = require_key(document, "frames", file);
    require(records.is_array() && !records.empty(),
            "key 'frames' in " + quoted(file) + " must be a non-empty array");
    const auto num_frames = json_get<std::size_t>(document, "num_frames", quoted(file));
    require(num_frames == records.size(), quoted(file) + ": key 'num_frames' is " +
                                              std::to_string(num_frames) + " but 'frames' holds " +
                                              std::to_string(records.size()));
    clip.frames.resize(records.size());
    // Every frame once when no list is given.
    uses.assign(records.size(), wanted ? 0 : 1);
    if (wanted)
      for (const int index : *wanted)
        if (index >= 0 && static_cast<std::size_t>(index) < records.size())
          ++uses[static_cast<std::size_t>(index)];
    for (std::size_t i = 0; i < records.size(); ++i) {
      const json& record = records[i];
      const std::string key = "frames[" + std::to_string(i) + "]";
      const std::string record_context = quoted(file) + " " + key;
      Frame& frame = clip.frames[i];
      Camera& camera = frame.camera;
      require(json_get<std::size_t>(record, "index", record_context) == i,
              record_context + ": key 'index' must be " + std::to_string(i));
      camera.width = json_get<int>(record, "width", record_context);
      camera.height = json_get<int>(record, "height", record_context);
      require(camera.width > 0 && camera.height > 0 && camera.width <= 1 << 15 &&
                  camera.height <= 1 << 15,
              "bad image size in " + key + " of " + quoted(file));
      camera.K = array_from_json<9>(require_key(record, "K", file), key + ".K", file);
      camera.cam_from_world = array_from_json<12>(require_key(record, "cam_from_world", file),
                                                  key + ".cam_from_world", file);
      const fs::path rgb_path = file_in_clip(clip_dir, record, "rgb", record_context);
      const fs::path depth_path = file_in_clip(clip_dir, record, "depth", record_context);
      const fs::path mask_path = file_in_clip(clip_dir, record, "mask", record_context);
      frame.source = rgb_path.string();
      if (uses[i] == 0) continue;  // its record is checked, its files are not read

      frame.rgb = read_png_u8(rgb_path);
      require(frame.rgb.width == camera.width && frame.rgb.height == camera.height &&
                  frame.rgb.channels == 3,
              "image " + quoted(rgb_path) + " does not match the " + std::to_string(camera.width) +
                  " x " + std::to_string(camera.height) + " RGB frame in " + quoted(file));

      frame.depth = read_checked_f32(depth_path, record, "depth_crc32", camera, file);
      if (record.contains("confidence"))
        frame.confidence = read_confidence(clip_dir, record, camera, file, record_context);

      const ImageU8 mask = read_png_u8(mask_path);
      require(mask.width == camera.width && mask.height == camera.height && mask.channels == 1,
              "mask " + quoted(mask_path) + " does not match the frame size in " + quoted(file));
      frame.valid = ImageU8(camera.width, camera.height, 1, kUninitialised);
      if (!mask_agrees_with_depth(mask, frame.depth)) {
        for (std::size_t p = 0; p < mask.pixels.size(); ++p) {  // throws at the first fault
          const std::uint8_t m = mask.pixels[p];
          require(m == 0 || m == 255,
                  [&] { return "mask " + quoted(mask_path) + " has a value other than 0/255"; });
          const float z = frame.depth.pixels[p];
          require(std::isfinite(z) && z >= 0 && ((m != 0) == (z > 0)), [&] {
            return "depth file " + quoted(depth_path) + " disagrees with mask " +
                   quoted(mask_path) + " at pixel " + std::to_string(p);
          });
        }
      }
      // Through plain pointers and a count held in a local: a byte store may alias the vectors'
      // own members, so reading their data pointers or size in the loop made the compiler reload
      // them after every byte and keep the loop scalar.
      const std::uint8_t* masks = mask.pixels.data();
      std::uint8_t* valid = frame.valid.pixels.data();
      const std::size_t count = mask.pixels.size();
      for (std::size_t p = 0; p < count; ++p) valid[p] = masks[p] != 0;
    }
    const auto with_confidence =
        std::count_if(records.begin(), records.end(),
                      [](const json& record) { return record.contains("confidence"); });
    require(with_confidence == 0 || static_cast<std::size_t>(with_confidence) == records.size(),
            quoted(file) + ": key 'confidence' is on " + std::to_string(with_confidence) + " of " +
                std::to_string(records.size()) + " frames (all or none)");
  } catch (const json::exception& e) {
    throw Error("bad value in " + quoted(file) + ": " + e.what());
  }
  if (!wanted) return clip;
  std::vector<Frame> frames;
  frames.reserve(wanted->size());
  for (const int index : *wanted) {
    require(index >= 0 && static_cast<std::size_t>(index) < clip.frames.size(),
            "synthetic clip '" + clip_dir.filename().string() + "': frame index " +
                std::to_string(index) + " out of range");
    auto& frame = clip.frames[static_cast<std::size_t>(index)];
    // The last use takes the frame, earlier ones copy it.
    frames.push_back(--uses[static_cast<std::size_t>(index)] == 0 ? std::move(frame) : frame);
  }
  clip.frames = std::move(frames);
  return clip;
}

}  // namespace

Clip read_synthetic_clip(const fs::path& clip_dir) {
  return read_clip(clip_dir, nullptr);
}

Clip read_synthetic_clip(const fs::path& clip_dir, std::span<const int> frames) {
  return read_clip(clip_dir, &frames);
}

std::vector<std::string> list_synthetic_clips(const fs::path& root) {
  require(fs::is_directory(root), "dataset root " + quoted(root) + " is not a directory");
  std::vector<std::string> ids;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    // Unfinished clips live under temporary_sibling() names ("<id>.tmp.<pid>.<n>").
    if (name.empty() || name[0] == '.' || name.find(".tmp.") != std::string::npos) continue;
    if (!fs::is_regular_file(entry.path() / kClipJson)) continue;
    ids.push_back(name);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool synthetic_clip_exists(const fs::path& root, const std::string& clip_id) {
  return fs::is_regular_file(root / clip_id / kClipJson);
}

}  // namespace vidprobe
