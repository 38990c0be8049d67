#include "vidprobe/io/ply.h"

#include <cstring>
#include <string>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"

namespace vidprobe {

void write_ply(const std::filesystem::path& path, const PlyData& data) {
  const std::size_t n = data.xyz.size() / 3;
  require(data.xyz.size() == 3 * n && data.rgb.size() == 3 * n,
          "PLY '" + path.string() + "': " + std::to_string(data.xyz.size()) + " coordinates and " +
              std::to_string(data.rgb.size()) + " colour bytes do not describe the same vertices");
  for (const auto& [a, b] : data.edges)
    require(a >= 0 && b >= 0 && static_cast<std::size_t>(a) < n && static_cast<std::size_t>(b) < n,
            "PLY '" + path.string() + "': an edge names vertex " + std::to_string(a) + " or " +
                std::to_string(b) + " of " + std::to_string(n));
  std::string bytes = "ply\nformat binary_little_endian 1.0\nelement vertex " + std::to_string(n) +
                      "\nproperty float x\nproperty float y\nproperty float z\n"
                      "property uchar red\nproperty uchar green\nproperty uchar blue\n";
  if (!data.edges.empty())
    bytes += "element edge " + std::to_string(data.edges.size()) +
             "\nproperty int vertex1\nproperty int vertex2\n";
  bytes += "end_header\n";
  const auto header = bytes.size();
  bytes.resize(header + n * 15 + data.edges.size() * 8);
  char* out = bytes.data() + header;
  // x86 and ARM are little-endian, as the format line says.
  for (std::size_t i = 0; i < n; ++i, out += 15) {
    std::memcpy(out, data.xyz.data() + i * 3, 12);
    std::memcpy(out + 12, data.rgb.data() + i * 3, 3);
  }
  for (const auto& edge : data.edges) {
    std::memcpy(out, edge.data(), 8);
    out += 8;
  }
  write_file_atomically(path, bytes);
}

}  // namespace vidprobe
