#pragma once
// The one PLY writer: binary little-endian vertices (x y z as float, red green blue as uchar) and
// optional edges (vertex1 vertex2 as int), which MeshLab, Open3D and Blender read. Written
// atomically (temporary name + rename).
#include <array>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace vidprobe {

struct PlyData {
  std::vector<float> xyz;                 // 3 per vertex
  std::vector<std::uint8_t> rgb;          // 3 per vertex
  std::vector<std::array<int, 2>> edges;  // vertex index pairs (camera frusta)
};

// Throws vidprobe::Error naming the file when the arrays disagree or an edge names no vertex.
void write_ply(const std::filesystem::path& path, const PlyData& data);

}  // namespace vidprobe
