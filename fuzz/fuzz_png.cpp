// PNG readers (io/image.h): 8-bit (RGB frames, masks), 16-bit (depth maps) and CO3D's float16
// depth PNGs (data/co3d.h). A decoded image's pixel count matches its size.
#include "fuzz_support.h"
#include "vidprobe/data/co3d.h"
#include "vidprobe/io/image.h"

namespace {
template <typename T>
void check(const vidprobe::Image<T>& image) {
  if (image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * image.channels)
    std::abort();
  volatile auto sink = vidprobe::fuzz::touch(image.pixels.data(), image.pixels.size() * sizeof(T));
  (void)sink;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  const auto path = fuzz::scratch() / "input.png";
  fuzz::write_file(path, fuzz::as_text(data, size));
  fuzz::expect_clean([&] { check(read_png_u8(path)); });
  fuzz::expect_clean([&] { check(read_png_u16(path)); });
  fuzz::expect_clean([&] { check(read_co3d_depth(path, 1.0)); });
  fuzz::expect_clean([&] { check(read_rgb(path)); });
  return 0;
}
