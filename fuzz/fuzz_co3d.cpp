// The CO3Dv2 reader (data/co3d.h): the input is frame_annotations (JSON text, gzipped here as
// the .jgz the dataset ships), optionally a line "----" and a set list. Annotations may point at
// img.png, depth.png and mask.png in the dataset root (dataset_support.h).
#include "dataset_support.h"
#include "vidprobe/data/co3d.h"
#include "vidprobe/io/gzip.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  static const auto root = [] {
    const auto dir = fuzz::scratch() / "co3d";
    fuzz::write_frame_images(dir);
    return dir;
  }();
  const auto [annotations, set_list] = fuzz::split_two(fuzz::as_text(data, size));
  write_gzip_file(root / "cat" / "frame_annotations.jgz", annotations);
  DatasetOptions options;
  options.categories = {"cat"};
  options.co3d_foreground_only = size % 2 == 1;
  if (!set_list.empty()) {
    fuzz::write_file(root / "cat" / "set_lists" / "set_lists_fuzz.json", set_list);
    options.co3d_set_list = "fuzz";
    options.split = Split::kTrain;
  }
  fuzz::expect_clean([&] { fuzz::load_some_clips(*open_co3d_dataset(root, options)); });
  return 0;
}
