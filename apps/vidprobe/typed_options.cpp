#include "typed_options.h"

#include "vidprobe/nn/device.h"

namespace vidprobe::cli {

CLI::Option* add_device_option(CLI::App& cmd, torch::Device& device, const std::string& help) {
  return add_parsed_option(cmd, "--device", device, nn::parse_device, help, device.str());
}

CLI::Option* add_dtype_option(CLI::App& cmd, const std::string& name, torch::Dtype& dtype,
                              const std::string& help) {
  return add_parsed_option(
      cmd, name, dtype, [name](const std::string& text) { return nn::parse_dtype(text, name); },
      help, nn::dtype_name(dtype));
}

}  // namespace vidprobe::cli
