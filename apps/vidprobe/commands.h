#pragma once
// Each subcommand lives in its own cmd_<name>.cpp and registers itself on the root app.
// The callback a subcommand installs throws vidprobe::Error for bad input; main() prints it.
#include <CLI/CLI.hpp>

namespace vidprobe::cli {

void register_render(CLI::App& app);
void register_extract(CLI::App& app);
void register_check(CLI::App& app);
void register_annotate(CLI::App& app);
void register_import(CLI::App& app);
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_sweep(CLI::App& app);
void register_report(CLI::App& app);
void register_bench(CLI::App& app);
void register_info(CLI::App& app);

}  // namespace vidprobe::cli
