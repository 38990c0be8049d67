// Gzipped JSON (io/gzip.h, CO3D's .jgz): any bytes decompress and parse, or are refused.
#include "fuzz_support.h"
#include "vidprobe/io/gzip.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  const auto path = fuzz::scratch() / "input.jgz";
  fuzz::write_file(path, fuzz::as_text(data, size));
  fuzz::expect_clean([&] { (void)read_json_file(path); });
  return 0;
}
