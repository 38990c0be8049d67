#pragma once
// Options parsed into typed values at the CLI edge: library option structs hold torch::Device,
// torch::Dtype and enums, never their names, so each value is parsed and validated once, here,
// before any work starts (a bad value fails with exit status 1 and the library's message, which
// names the option and the value).
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "commands.h"
#include "vidprobe/core/error.h"

namespace vidprobe::cli {

// `name TEXT`, parsed by `parse` (a library parser that throws vidprobe::Error naming the value)
// into `target` when given; `default_text` is what the help shows as the default. The error is
// prefixed with the flag's name (the library's parsers do not know which flag they parse).
template <typename T, typename Parse>
CLI::Option* add_parsed_option(CLI::App& cmd, const std::string& name, T& target, Parse parse,
                               const std::string& help, const std::string& default_text) {
  return cmd
      .add_option_function<std::string>(
          name,
          [&target, parse, name](const std::string& text) {
            try {
              target = parse(text);
            } catch (const Error& e) {
              const std::string message = e.what();
              throw Error(message.rfind(name, 0) == 0 ? message : name + ": " + message);
            }
          },
          help)
      ->default_str(default_text);
}

// --device cpu | cuda | cuda:N (nn::parse_device).
CLI::Option* add_device_option(CLI::App& cmd, torch::Device& device,
                               const std::string& help = "cpu | cuda | cuda:N");

// `name` fp32 | bf16 | fp16 (nn::parse_dtype).
CLI::Option* add_dtype_option(CLI::App& cmd, const std::string& name, torch::Dtype& dtype,
                              const std::string& help);

// Ranges of numeric flags, checked by CLI11 before any work (a value outside is a usage error,
// exit status 2, naming the flag). Unlike CLI::Range and CLI::PositiveNumber they refuse NaN and
// infinities (every comparison with NaN is false, so those let it through), and a sign where none
// belongs: CLI11 converts "-5" into an unsigned seed as 2^64 - 5.
CLI::Validator in_range(double min, double max);  // [min, max]
CLI::Validator positive();                        // > 0
CLI::Validator non_negative();                    // >= 0
CLI::Validator fraction();                        // (0, 1]

// Enumerations shared by several commands, checked the same way (usage error naming the flag).
CLI::Validator registered_backbone();  // a name of backbones::registered_backbones()
CLI::Validator dataset_kind();         // synthetic | co3d | dl3dv
// on | off into a bool option (a transform: it rewrites the word before CLI11 converts it).
CLI::Validator on_off();

// A file the command will write: not a directory, in a directory that exists (checked before any
// work, so that a long run does not fail at its last step).
CLI::Validator output_file();

// `--backbone-opt key=value` items as a map; throws vidprobe::Error naming a malformed item.
std::map<std::string, std::string> parse_backbone_opts(const std::vector<std::string>& items);

}  // namespace vidprobe::cli
