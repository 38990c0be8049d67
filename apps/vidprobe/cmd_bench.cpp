// `vidprobe bench`: speed figures printed as one JSON object per benchmark.
#include <iostream>

#include "commands.h"
#include "typed_options.h"
#include "vidprobe/backbones/benchmark.h"
#include "vidprobe/backbones/registry.h"

namespace vidprobe::cli {

void register_bench_probe(CLI::App& bench);  // cmd_bench_probe.cpp (probe training steps/s)

void register_bench(CLI::App& app) {
  auto* bench =
      app.add_subcommand("bench", "Run the speed benchmarks and print figures and ratios as JSON");
  bench->require_subcommand(1);

  auto* extract =
      bench->add_subcommand("backbone", "Backbone feature extraction throughput (clips/s)");
  auto options = std::make_shared<backbones::BackboneBenchOptions>();
  extract->add_option("--backbone", options->backbone, "Registered backbone")
      ->capture_default_str()
      ->check(registered_backbone());
  extract->add_option("--weights", options->weights,
                      "Checkpoint (default: random weights at real size)");
  add_device_option(*extract, options->device);
  add_dtype_option(*extract, "--dtype", options->dtype, "fp32 | bf16 | fp16");
  extract->add_option("--frames", options->frames, "Frames per clip")
      ->capture_default_str()
      ->check(positive());
  extract->add_option("--layer", options->layer, "Layer (-1 = default)")
      ->capture_default_str()
      ->check(in_range(-1, 1 << 20));
  extract->add_option("--iterations", options->iterations, "Timed clips")
      ->capture_default_str()
      ->check(positive());
  extract->add_option("--profile", options->profile_dir,
                      "Also profile one clip kernel by kernel: kernels.json (also split by "
                      "stage, e.g. vae and transformer) and trace.json here");
  auto backbone_opts = std::make_shared<std::vector<std::string>>();
  extract->add_option("--backbone-opt", *backbone_opts,
                      "Family-specific setting key=value, repeatable (as extract's)");
  extract->callback([options, backbone_opts] {
    options->extra = parse_backbone_opts(*backbone_opts);
    backbones::check_backbone_options(options->backbone, options->extra);
    std::cout << backbones::benchmark_backbone(*options).dump() << "\n";
  });

  register_bench_probe(*bench);
}

}  // namespace vidprobe::cli
