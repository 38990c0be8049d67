#pragma once
// vidprobe's own on-disk clip format (written by `vidprobe render`, documented in
// docs/data-format.md). A dataset root holds one directory per clip; a clip directory appears
// only once complete (it is built under a temporary name and renamed).
#include <filesystem>
#include <string>
#include <vector>

#include "vidprobe/data/frame.h"

namespace vidprobe {

// Writes clip to root/<clip.id>/ atomically.
void write_synthetic_clip(const std::filesystem::path& root, const Clip& clip);
// Reads a clip directory; throws vidprobe::Error naming the file at fault.
Clip read_synthetic_clip(const std::filesystem::path& clip_dir);
// Sorted clip ids of complete clips under root (temporary directories are ignored).
std::vector<std::string> list_synthetic_clips(const std::filesystem::path& root);

}  // namespace vidprobe
