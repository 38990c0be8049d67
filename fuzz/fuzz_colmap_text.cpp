// COLMAP's text model (data/colmap.h): the input is cameras.txt, a line "----", images.txt.
// A model that reads converts to cameras that either pass validate_camera or are refused.
#include "fuzz_support.h"
#include "vidprobe/data/camera_validation.h"
#include "vidprobe/data/colmap.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  const auto [cameras, images] = fuzz::split_two(fuzz::as_text(data, size));
  const auto dir = fuzz::scratch() / "text";
  fuzz::write_file(dir / "cameras.txt", cameras);
  fuzz::write_file(dir / "images.txt", images);
  fuzz::expect_clean([&] {
    const ColmapModel model = read_colmap_text(dir);
    for (const auto& image : model.images) {
      const ColmapCamera& camera = model.cameras.at(image.camera_id);
      fuzz::expect_clean([&] { (void)colmap_intrinsics(camera); });
      fuzz::expect_clean([&] { validate_camera(colmap_camera(camera, image), image.name); });
    }
  });
  return 0;
}
