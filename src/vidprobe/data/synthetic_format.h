#pragma once
// vidprobe's own on-disk clip format (written by `vidprobe render`, documented in
// docs/data-format.md). A dataset root holds one directory per clip; a clip directory appears
// only once complete (it is built under a temporary name and renamed).
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "vidprobe/data/frame.h"

namespace vidprobe {

// Bumped whenever the layout or a field's meaning changes; readers reject other versions.
inline constexpr int kSyntheticFormatVersion = 1;
inline constexpr const char* kSyntheticFormatName = "vidprobe-synthetic-clip";

// Writes clip to root/<clip.id>/ atomically (replacing an existing clip of that id). Every frame
// needs rgb (3 channels), depth and valid (1 channel) of the camera's size; a confidence map (1
// channel) is written when every frame has one (confidence/<frame>.f32, optional: clips without
// it, e.g. rendered ones, read back with an empty Frame::confidence). The object mask is not kept.
void write_synthetic_clip(const std::filesystem::path& root, const Clip& clip);
// Reads a clip directory; throws vidprobe::Error naming the file at fault.
Clip read_synthetic_clip(const std::filesystem::path& clip_dir);
// The frames at `frames` only, in that order (an index may repeat): clip.json is checked whole,
// but only these frames' files are read. An index out of range throws vidprobe::Error.
Clip read_synthetic_clip(const std::filesystem::path& clip_dir, std::span<const int> frames);
// Reads only clip.json (cheap: no pixels), e.g. to check a finished clip's parameters.
nlohmann::json read_synthetic_clip_json(const std::filesystem::path& clip_dir);
// Sorted clip ids of complete clips under root (temporary directories are ignored).
std::vector<std::string> list_synthetic_clips(const std::filesystem::path& root);
// True when root/<clip_id> is a finished clip (used to resume an interrupted render).
bool synthetic_clip_exists(const std::filesystem::path& root, const std::string& clip_id);

// Depth maps are stored as raw little-endian float32, row-major, no header (the shape lives in
// clip.json). Exposed for tools and tests.
void write_depth_f32(const std::filesystem::path& path, const ImageF32& depth);
// width x height must be bounded by the caller (the decoded frame's size): the map is allocated
// before the file's size is checked against it.
ImageF32 read_depth_f32(const std::filesystem::path& path, int width, int height);

}  // namespace vidprobe
