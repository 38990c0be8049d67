#pragma once
// CRC-32 as zlib, gzip and PNG define it, computed by libdeflate: several times faster than
// zlib's, which a loader that checks every frame's depth map and every PNG chunk notices.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace vidprobe {

std::uint32_t crc32_of(std::span<const std::byte> bytes);

inline std::uint32_t crc32_of(std::string_view bytes) {
  return crc32_of(std::as_bytes(std::span(bytes.data(), bytes.size())));
}

}  // namespace vidprobe
