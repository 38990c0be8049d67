// PNG readers (io/image.h): 8-bit (RGB frames, masks), 16-bit (depth maps) and CO3D's float16
// depth PNGs (data/co3d.h). A decoded image's pixel count matches its size, and where the
// libdeflate decoder and libpng both accept a file they give the same pixels.
#include <libdeflate.h>

#include <string>

#include "fuzz_support.h"
#include "vidprobe/data/co3d.h"
#include "vidprobe/io/image.h"
#include "vidprobe/io/png_decoders.h"

namespace {
template <typename T>
void check(const vidprobe::Image<T>& image) {
  if (image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * image.channels)
    std::abort();
  volatile auto sink = vidprobe::fuzz::touch(image.pixels.data(), image.pixels.size() * sizeof(T));
  (void)sink;
}
// read_png (libdeflate, or libpng for what it leaves to libpng) and libpng alone may each refuse
// a file the other reads (their checks differ in order and in what they tolerate), but where both
// read it they give the same pixels.
template <typename T, typename Fast, typename Libpng>
void check_same_pixels(Fast fast, Libpng libpng) {
  vidprobe::Image<T> a, b;
  try {
    a = fast();
    b = libpng();
  } catch (const vidprobe::Error&) {
    return;
  }
  if (a.pixels != b.pixels || a.width != b.width || a.channels != b.channels) std::abort();
}

// Mutations almost never keep a chunk's CRC, so both decoders would refuse nearly every input at
// its first changed chunk: a copy with every CRC recomputed lets them reach the image data.
std::string with_valid_crcs(std::string bytes) {
  const auto be32 = [&](std::size_t at) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
  };
  for (std::size_t at = 8; bytes.size() >= at + 12 && be32(at) <= bytes.size() - at - 12;) {
    const std::size_t length = be32(at);
    const std::uint32_t crc = libdeflate_crc32(0, bytes.data() + at + 4, 4 + length);
    for (int i = 0; i < 4; ++i) bytes[at + 8 + length + i] = static_cast<char>(crc >> (24 - 8 * i));
    at += 12 + length;
  }
  return bytes;
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
  for (const auto& file : {path, fuzz::scratch() / "crcs.png"}) {
    if (file != path)
      fuzz::write_file(file, with_valid_crcs(std::string(fuzz::as_text(data, size))));
    check_same_pixels<std::uint8_t>([&] { return read_png_u8(file); },
                                    [&] { return png_decoders::read_png_u8_libpng(file); });
    check_same_pixels<std::uint16_t>([&] { return read_png_u16(file); },
                                     [&] { return png_decoders::read_png_u16_libpng(file); });
  }
  return 0;
}
