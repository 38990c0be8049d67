// vidprobe's own clip format (data/synthetic_format.h): the input is clip.json of a clip whose
// two 4 x 3 frames (rgb/, depth/, mask/ as `vidprobe render` writes them) are on disk.
#include "dataset_support.h"
#include "vidprobe/data/synthetic_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  static const auto dir = [] {
    const auto root = fuzz::scratch() / "clips";
    write_synthetic_clip(root, fuzz::two_frame_clip());
    return root / "clip";
  }();
  fuzz::write_file(dir / "clip.json", fuzz::as_text(data, size));
  fuzz::expect_clean([&] {
    const Clip clip = read_synthetic_clip(dir);
    for (const auto& frame : clip.frames)
      if (frame.depth.pixels.size() != frame.valid.pixels.size()) std::abort();
  });
  return 0;
}
