// COLMAP's binary model (data/colmap.h): the input's first 4 bytes (little-endian) give the
// length of cameras.bin, which follows; images.bin is the rest.
#include <algorithm>

#include "fuzz_support.h"
#include "vidprobe/data/camera_validation.h"
#include "vidprobe/data/colmap.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  if (size < 4) return 0;
  const std::size_t length = std::min<std::size_t>(
      size - 4, data[0] | (data[1] << 8) | (data[2] << 16) | (std::size_t{data[3]} << 24));
  const auto text = fuzz::as_text(data + 4, size - 4);
  const auto dir = fuzz::scratch() / "binary";
  fuzz::write_file(dir / "cameras.bin", text.substr(0, length));
  fuzz::write_file(dir / "images.bin", text.substr(length));
  fuzz::expect_clean([&] {
    const ColmapModel model = read_colmap_binary(dir);
    for (const auto& image : model.images) {
      const ColmapCamera& camera = model.cameras.at(image.camera_id);
      fuzz::expect_clean([&] { (void)colmap_intrinsics(camera); });
      fuzz::expect_clean([&] { validate_camera(colmap_camera(camera, image), image.name); });
    }
  });
  return 0;
}
