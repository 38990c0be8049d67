// The DL3DV reader (data/dl3dv.h) on a scene's transforms.json (the input). The scene has
// images/ with frame_00001.png .. frame_00003.png (RGB 4 x 3) and, for odd-sized inputs, a depth
// folder (depth_dir) with each frame's .depth.f32 and .valid.png.
#include "dataset_support.h"
#include "vidprobe/data/dl3dv.h"
#include "vidprobe/data/synthetic_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  static const auto scene = [] {
    const auto dir = fuzz::scratch() / "dl3dv" / "scene";
    fuzz::write_frame_images(dir / "images");
    for (const char* name : {"frame_00001.png", "frame_00002.png", "frame_00003.png"})
      std::filesystem::copy_file(dir / "images" / "img.png", dir / "images" / name);
    for (const char* stem : {"frame_00001", "frame_00002", "frame_00003"}) {
      write_depth_f32(dir / "depth" / (std::string(stem) + ".depth.f32"), ImageF32(4, 3, 1, 1.5f));
      std::filesystem::copy_file(dir / "images" / "mask.png",
                                 dir / "depth" / (std::string(stem) + ".valid.png"));
    }
    return dir;
  }();
  fuzz::write_file(scene / "transforms.json", fuzz::as_text(data, size));
  DatasetOptions options;
  if (size % 2 == 1) options.depth_dir = "depth";
  fuzz::expect_clean(
      [&] { fuzz::load_some_clips(*open_dl3dv_dataset(scene.parent_path(), options)); });
  return 0;
}
