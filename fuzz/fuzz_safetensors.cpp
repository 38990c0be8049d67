// The safetensors reader (io/safetensors.h): any file opens into views inside the mapping, or
// is refused naming the file.
#include "fuzz_support.h"
#include "vidprobe/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  const auto path = fuzz::scratch() / "input.safetensors";
  fuzz::write_file(path, fuzz::as_text(data, size));
  fuzz::expect_clean([&] {
    const auto file = SafetensorsFile::open(path);
    volatile std::uint8_t sink = 0;
    for (const auto& [name, view] : file.entries()) {
      if (static_cast<std::size_t>(view.numel()) * dtype_size(view.dtype) != view.bytes.size())
        std::abort();  // a view whose byte size disagrees with its shape and dtype
      sink = sink + fuzz::touch(view.bytes.data(), view.bytes.size());
    }
    for (const auto& name : file.names()) (void)file.view(name);
  });
  return 0;
}
