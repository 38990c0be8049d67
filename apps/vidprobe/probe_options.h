#pragma once
// The training-budget options `vidprobe train` and `vidprobe sweep` share, declared once.
#include <string>

#include "commands.h"
#include "vidprobe/probe/workflow.h"

namespace vidprobe::cli {

// Adds --epochs, --steps, --batch and --lr, each positive and set only when given (it then
// overrides the configuration). `scope` follows the noun in the help, e.g. " per probe".
void add_training_overrides(CLI::App& cmd, probe::ConfigOverrides& overrides,
                            const std::string& scope = "");

}  // namespace vidprobe::cli
