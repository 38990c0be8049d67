// The JPEG reader (io/image.h), directly and through read_rgb.
#include "fuzz_support.h"
#include "vidprobe/io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  const auto path = fuzz::scratch() / "input.jpg";
  fuzz::write_file(path, fuzz::as_text(data, size));
  for (const bool rgb : {false, true}) {
    fuzz::expect_clean([&] {
      const ImageU8 image = rgb ? read_rgb(path) : read_jpeg(path);
      if (image.pixels.size() !=
          static_cast<std::size_t>(image.width) * image.height * image.channels)
        std::abort();
      volatile auto sink = fuzz::touch(image.pixels.data(), image.pixels.size());
      (void)sink;
    });
  }
  return 0;
}
