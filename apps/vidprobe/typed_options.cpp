#include "typed_options.h"

#include "vidprobe/core/error.h"
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

std::map<std::string, std::string> parse_backbone_opts(const std::vector<std::string>& items) {
  std::map<std::string, std::string> options;
  for (const auto& item : items) {
    const auto equals = item.find('=');
    require(equals != std::string::npos && equals > 0,
            "--backbone-opt expects key=value, got '" + item + "'");
    options[item.substr(0, equals)] = item.substr(equals + 1);
  }
  return options;
}

}  // namespace vidprobe::cli
