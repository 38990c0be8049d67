// vidprobe: probe how much 3D a video foundation model encodes.
#include <c10/util/Exception.h>

#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include "commands.h"
#include "vidprobe/core/allocator.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/progress.h"
#include "vidprobe/nn/device.h"

namespace {

// Not a fault of the program: the work does not fit the device's memory. libtorch's message
// (what was asked, what is free) without its C++ backtrace, and what holds less.
int report_out_of_memory(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  const std::string message = c10_error ? c10_error->what_without_backtrace() : e.what();
  const bool gpu = dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr;
  std::cerr << "vidprobe: error: the work does not fit " << (gpu ? "the GPU's" : "this machine's")
            << " memory: " << message.substr(0, message.find('\n'))
            << "\nSmaller batches or clips hold less; for probe training, so do "
               "model.gradient_checkpointing on and model.checkpoint_blocks -1 (every block).\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  vidprobe::keep_freed_memory_for_reuse();
  CLI::App app{
      "vidprobe: measure how much 3D a frozen video foundation model encodes by training shallow "
      "transformer probes for point maps, depth maps and camera poses on its features."};
  app.set_version_flag("--version", std::string("vidprobe ") + VIDPROBE_VERSION);
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "Hide progress bars");
  app.require_subcommand(1);

  vidprobe::cli::register_render(app);
  vidprobe::cli::register_extract(app);
  vidprobe::cli::register_check(app);
  vidprobe::cli::register_annotate(app);
  vidprobe::cli::register_import(app);
  vidprobe::cli::register_train(app);
  vidprobe::cli::register_eval(app);
  vidprobe::cli::register_sweep(app);
  vidprobe::cli::register_report(app);
  vidprobe::cli::register_bench(app);
  vidprobe::cli::register_info(app);

  app.parse_complete_callback([&] { vidprobe::Progress::set_quiet(quiet); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end well; every other usage error (unknown flag, a value outside its
    // range) is exit status 2, as documented, whatever CLI11's own code for it.
    const int status = app.exit(e);
    return status == 0 ? 0 : 2;
  } catch (const vidprobe::Error& e) {
    std::cerr << "vidprobe: error: " << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the user gave that the system refuses (an --out under a regular file, a directory
    // without permission): its message names the operation, the reason and the paths.
    std::cerr << "vidprobe: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    if (vidprobe::nn::is_out_of_memory(e)) return report_out_of_memory(e);
    std::cerr << "vidprobe: internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
