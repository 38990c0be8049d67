#include "vidprobe/io/checksum.h"

#include <libdeflate.h>

namespace vidprobe {

std::uint32_t crc32_of(std::span<const std::byte> bytes) {
  return libdeflate_crc32(0, bytes.data(), bytes.size());
}

}  // namespace vidprobe
