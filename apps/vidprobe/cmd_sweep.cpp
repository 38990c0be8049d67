// `vidprobe sweep`: extract + train + evaluate over a (layer x timestep) grid.
#include <iostream>

#include "commands.h"
#include "extract_options.h"
#include "probe_options.h"
#include "typed_options.h"
#include "vidprobe/probe/sweep.h"

namespace vidprobe::cli {

void register_sweep(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("sweep", "Train and evaluate one probe per (layer, timestep) of a grid");
  auto request = std::make_shared<probe::SweepRequest>();
  auto layers = std::make_shared<std::string>();
  auto timesteps = std::make_shared<std::string>();
  auto preset = std::make_shared<std::string>();
  auto& x = request->extract;
  auto flags = add_extraction_options(*cmd, x, /*with_preset=*/false);
  cmd->add_option("--layers", *layers, "Comma-separated blocks, e.g. 3,6,9")->required();
  cmd->add_option("--timesteps", *timesteps,
                  "Comma-separated diffusion timesteps, e.g. 100,200,400,800");
  cmd->add_option("--out", request->out_dir, "Sweep directory (resumable)")->required();
  cmd->add_option("--config", request->config_file, "Probe configuration (JSON)");
  cmd->add_option("--preset", *preset,
                  "vidfm3d (default: the paper's extraction and probe, docs/protocol.md) | "
                  "vidprobe (vidprobe's earlier probe, extraction as given)")
      ->check(CLI::IsMember(probe::probe_preset_names()));
  add_training_overrides(*cmd, request->overrides, " per probe");
  cmd->add_flag("--extract-only", request->extract_only,
                "Only extract the caches of every point (one pass per split) and write "
                "extraction.json; train nothing");
  cmd->add_flag("--no-global-attention", request->overrides.no_global_attention,
                "Ablation: probes with frame attention only");
  add_device_option(*cmd, request->device, "cpu | cuda | cuda:N (extraction and probes)");
  cmd->add_option("--threads", request->threads, "CPU threads (0 = all)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--heatmap-metric", request->heatmap_metric, "Metric drawn in the heat map")
      ->capture_default_str();
  cmd->add_option("--chamfer-points", request->chamfer_points,
                  "Points per cloud (a seeded subset) for accuracy, completeness and Chamfer")
      ->capture_default_str()
      ->check(positive());
  cmd->callback([=] {
    flags->preset = *preset == "vidprobe" ? "none" : "vidfm3d";
    request->extract.device = request->device;
    flags->apply(request->extract);  // joins the job: the device may become this rank's GPU
    request->device = request->extract.device;
    request->layers = probe::parse_int_list(*layers, "--layers");
    for (const int layer : request->layers)
      require(layer >= 0, "--layers: block " + std::to_string(layer) + " is negative");
    if (!timesteps->empty()) request->timesteps = probe::parse_int_list(*timesteps, "--timesteps");
    for (const int timestep : request->timesteps)
      require(timestep >= 0 && timestep <= 1000,
              "--timesteps: " + std::to_string(timestep) + " is outside 0..1000");
    if (!preset->empty()) request->overrides.preset = *preset;
    const auto sweep = probe::run_sweep(*request);
    if (!request->extract.group.is_main()) return;
    if (request->extract_only)
      std::cout << "sweep: caches of " << sweep.at("points") << " points in "
                << (request->out_dir / "features").string() << "\n";
    else
      std::cout << "sweep: " << sweep.at("points").size() << " points; tables in "
                << (request->out_dir / "sweep.md").string() << "\n";
  });
}

}  // namespace vidprobe::cli
