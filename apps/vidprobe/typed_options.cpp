#include "typed_options.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>

#include "vidprobe/backbones/registry.h"
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

namespace {

// A validator accepting finite numbers for which `accept` holds; `what` completes "must be ...".
CLI::Validator number_validator(std::function<bool(double)> accept, const std::string& what) {
  return CLI::Validator(
      [accept, what](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        const bool parsed = !text.empty() && end == text.c_str() + text.size();
        // Beyond int64, CLI11 saturates or wraps some integer types instead of failing.
        constexpr double kLargest = 9.2e18;
        if (!parsed || !std::isfinite(value) || std::abs(value) > kLargest || !accept(value))
          return "must be " + what + ", got '" + text + "'";
        return {};
      },
      what);
}

}  // namespace

CLI::Validator in_range(double min, double max) {
  std::ostringstream what;
  what << "a number in [" << min << ", " << max << "]";
  return number_validator([=](double v) { return v >= min && v <= max; }, what.str());
}

CLI::Validator positive() {
  return number_validator([](double v) { return v > 0; }, "a positive number");
}

CLI::Validator non_negative() {
  return number_validator([](double v) { return v >= 0; }, "a non-negative number");
}

CLI::Validator output_file() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        const std::filesystem::path path(value);
        if (std::filesystem::is_directory(path)) return value + " is a directory";
        const auto parent =
            path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
        if (!std::filesystem::is_directory(parent))
          return "the directory of " + value + " does not exist";
        return {};
      },
      "FILE");
}

CLI::Validator fraction() {
  return number_validator([](double v) { return v > 0 && v <= 1; }, "a fraction in (0, 1]");
}

CLI::Validator registered_backbone() {
  std::vector<std::string> names;
  for (const auto& info : backbones::registered_backbones()) names.push_back(info.name);
  return CLI::IsMember(names);
}

CLI::Validator dataset_kind() {
  return CLI::IsMember({"synthetic", "co3d", "dl3dv"});
}

CLI::Validator on_off() {
  return CLI::CheckedTransformer(
      std::map<std::string, std::string>{{"on", "true"}, {"off", "false"}});
}

std::map<std::string, std::string> parse_backbone_opts(const std::vector<std::string>& items) {
  std::map<std::string, std::string> options;
  for (const auto& item : items) {
    const auto equals = item.find('=');
    require(equals != std::string::npos && equals > 0,
            "--backbone-opt expects key=value, got '" + item + "'");
    // An empty value would read as "not given" in the families' parsers, silently running the
    // default; a repeated key would silently keep the last one.
    require(equals + 1 < item.size(),
            "--backbone-opt " + item + " has no value (expected key=value)");
    const auto key = item.substr(0, equals);
    require(options.emplace(key, item.substr(equals + 1)).second,
            "--backbone-opt " + key + " is given twice");
  }
  return options;
}

}  // namespace vidprobe::cli
