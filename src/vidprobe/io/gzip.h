#pragma once
// gzip files through zlib: CO3D ships its annotations as gzipped JSON (.jgz).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace vidprobe {

// Decompresses a whole gzip file (concatenated members included). Throws vidprobe::Error naming
// the file when it is missing, truncated or not gzip.
std::string read_gzip_file(const std::filesystem::path& path);

// Writes bytes as a gzip file, atomically (temporary name + rename).
void write_gzip_file(const std::filesystem::path& path, std::string_view bytes);

// Parses a JSON file, gunzipping it first when its name ends in .gz or .jgz. Throws
// vidprobe::Error naming the file on I/O or parse errors.
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace vidprobe
