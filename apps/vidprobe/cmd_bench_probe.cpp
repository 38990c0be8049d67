// `vidprobe bench probe`: training steps/s of the default probe, optionally next to the same probe
// written in PyTorch Python (bench/probe_reference.py) run with identical arguments on this
// machine, so the printed ratio compares like with like.
#include <ATen/DeviceAccelerator.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "commands.h"
#include "typed_options.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/core/text_parse.h"
#include "vidprobe/probe/probe_bench.h"
#include "vidprobe/probe/probe_config.h"

namespace vidprobe::cli {
namespace {

struct BenchProbeArgs {
  probe::ProbeBenchOptions options;
  bool reference = false;
  std::string python = VIDPROBE_DEFAULT_PYTHON;
  std::string reference_script;  // default: per preset, see reference_script_for
  std::string checkout;          // the authors' code, for the vidfm3d reference
  std::string profile;           // --profile: DIR/vidprobe and DIR/reference
};

// The vidfm3d preset is timed against the authors' own code, the vidprobe preset against the
// same probe written in PyTorch Python.
std::string reference_script_for(const BenchProbeArgs& a) {
  if (!a.reference_script.empty()) return a.reference_script;
  return std::string(VIDPROBE_SOURCE_DIR) + (a.options.preset == "vidfm3d"
                                                 ? "/bench/vidfm3d_reference.py"
                                                 : "/bench/probe_reference.py");
}

std::string size_arg(int h, int w) {
  return std::to_string(h) + "x" + std::to_string(w);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Only the authors' code (the vidfm3d reference) can checkpoint as the C++ step does.
void require_reference_can_checkpoint(const std::string& preset, bool checkpointing) {
  require(preset == "vidfm3d" || !checkpointing,
          "bench probe: bench/probe_reference.py has no gradient checkpointing; time the " +
              preset + " preset with --gradient-checkpointing off");
}

// checkpointing: what the C++ step ran with (its JSON line), so both sides take the same step.
nlohmann::json run_reference(const BenchProbeArgs& a, bool checkpointing) {
  const auto script = reference_script_for(a);
  require(std::filesystem::exists(script), "bench probe: reference script not found: " + script);
  const auto& o = a.options;
  std::ostringstream cmd;
  cmd << shell_quote(a.python) << ' ' << shell_quote(script) << " --device "
      << shell_quote(o.device.str()) << " --batch " << o.batch << " --frames " << o.frames
      << " --feature-dim " << o.feature_dim << " --grid " << size_arg(o.grid_h, o.grid_w)
      << " --size " << size_arg(o.height, o.width) << " --warmup " << o.warmup << " --steps "
      << o.steps << " --threads " << o.threads;
  if (o.preset == "vidfm3d") {
    require(!a.checkout.empty(),
            "bench probe --reference with the vidfm3d preset times the authors' code: give "
            "--checkout DIR (a checkout of zxhuang1698/VidFM3D)");
    require(o.config_file.empty(),
            "bench probe: the authors' reference has no --config; time the preset as it is");
    cmd << " --checkout " << shell_quote(a.checkout) << " --checkpointing "
        << (checkpointing ? "on" : "off");
    if (!a.profile.empty())
      cmd << " --profile "
          << shell_quote((std::filesystem::path(a.profile) / "reference").string());
  } else {
    require_reference_can_checkpoint(o.preset, checkpointing);
    if (!o.config_file.empty()) cmd << " --config " << shell_quote(o.config_file);
  }
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.str().c_str(), "r"), pclose);
  require(pipe != nullptr, "bench probe: cannot start " + cmd.str());
  std::string output;
  char buffer[4096];
  while (const size_t n = fread(buffer, 1, sizeof buffer, pipe.get())) output.append(buffer, n);
  const int status = pclose(pipe.release());
  require(status == 0, "bench probe: the reference failed (exit status " + std::to_string(status) +
                           "): " + cmd.str());
  // The script prints one JSON object per line; the last such line is its result.
  std::istringstream lines(output);
  std::string line, result;
  while (std::getline(lines, line))
    if (!line.empty() && line.front() == '{') result = line;
  require(!result.empty(), "bench probe: no JSON line from " + cmd.str());
  return parse_json(result, "the output of " + cmd.str());
}

// "HxW" or "N" (square).
std::pair<int, int> parse_size(const std::string& text, const std::string& option) {
  if (text.find('x') != std::string::npos) return parse_height_width(text, option);
  const int side = parse_int(text, option);
  require(side > 0, option + " must be positive, got '" + text + "'");
  return {side, side};
}

}  // namespace

void register_bench_probe(CLI::App& bench) {
  auto* cmd = bench.add_subcommand("probe", "Probe training steps/s for the default configuration");
  auto args = std::make_shared<BenchProbeArgs>();
  auto& o = args->options;
  cmd->add_option("--preset", o.preset, "vidfm3d (the paper's probe) | vidprobe")
      ->check(CLI::IsMember(probe::probe_preset_names()))
      ->capture_default_str();
  cmd->add_option("--config", o.config_file, "Probe config JSON overriding the preset");
  add_device_option(*cmd, o.device);
  cmd->add_option("--batch", o.batch, "Clips per step")->capture_default_str()->check(positive());
  cmd->add_option("--frames", o.frames, "Frames per clip")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--feature-dim", o.feature_dim, "Channels of the cached features")
      ->capture_default_str()
      ->check(positive());
  auto grid = std::make_shared<std::string>("16x16");
  auto size = std::make_shared<std::string>("112x112");
  cmd->add_option("--grid", *grid, "Feature map h x w (or one side)")->capture_default_str();
  cmd->add_option("--size", *size, "Ground truth H x W (or one side)")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Untimed steps")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--steps", o.steps, "Timed steps")->capture_default_str()->check(positive());
  cmd->add_option("--threads", o.threads, "CPU threads (0 = libtorch default)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_flag("--reference", args->reference,
                "Also time the PyTorch Python probe with the same arguments and print the ratio");
  cmd->add_option("--python", args->python, "Python with torch for --reference")
      ->capture_default_str();
  cmd->add_option("--reference-script", args->reference_script,
                  "Default: bench/vidfm3d_reference.py (vidfm3d) or bench/probe_reference.py");
  cmd->add_option("--checkout", args->checkout,
                  "vidfm3d --reference: a checkout of the authors' code (zxhuang1698/VidFM3D)");
  cmd->add_option("--gradient-checkpointing", o.gradient_checkpointing,
                  "on | off: the trunk's gradient checkpointing, on both sides with --reference "
                  "(default: the preset's; vidfm3d: on, as the authors' config)")
      ->transform(on_off());
  cmd->add_option("--checkpoint-blocks", o.checkpoint_blocks,
                  "With gradient checkpointing: only the first N trunk blocks, the others keep "
                  "their activations (-1 = all). vidprobe's side only: the authors' code "
                  "checkpoints every block or none");
  cmd->add_option("--profile", args->profile,
                  "Also profile one step kernel by kernel: DIR/vidprobe/kernels.json (and, with "
                  "the vidfm3d --reference, the authors' step in DIR/reference/)");
  cmd->callback([args, grid, size] {
    // Refused before the C++ step runs when the flag says it; a config file's setting is known
    // only after it (run_reference refuses then).
    if (args->reference)
      require_reference_can_checkpoint(args->options.preset,
                                       args->options.gradient_checkpointing.value_or(false));
    if (!args->profile.empty())
      args->options.profile_dir = std::filesystem::path(args->profile) / "vidprobe";
    std::tie(args->options.grid_h, args->options.grid_w) = parse_size(*grid, "--grid");
    std::tie(args->options.height, args->options.width) = parse_size(*size, "--size");
    auto cpp = probe::run_probe_benchmark(args->options);
    std::cout << cpp.dump() << std::endl;
    if (!args->reference) return;
    // The reference runs in another process on the same device: hand back what this one
    // cached. On the CPU that is glibc's free heap, which this process otherwise keeps (half of
    // the paper's probe step's peak at batch 2), and which at batch 10 left the reference too
    // little of a 24 GiB machine.
    if (args->options.device.is_cuda()) at::accelerator::emptyCache();
#ifdef __GLIBC__
    if (args->options.device.is_cpu()) malloc_trim(0);
#endif
    const auto python = run_reference(*args, cpp.at("gradient_checkpointing").get<bool>());
    std::cout << python.dump() << std::endl;
    const double ratio =
        cpp.at("steps_per_s").get<double>() / python.at("steps_per_s").get<double>();
    nlohmann::json summary = {{"benchmark", "probe_train_step_ratio"},
                              {"device", args->options.device.str()},
                              {"cpp_steps_per_s", cpp.at("steps_per_s")},
                              {"pytorch_steps_per_s", python.at("steps_per_s")},
                              {"cpp_over_pytorch", ratio},
                              {"gradient_checkpointing", cpp.at("gradient_checkpointing")},
                              {"cpp_checkpoint_blocks", cpp.at("checkpoint_blocks")}};
    if (python.contains("peak_gb")) summary["pytorch_peak_gb"] = python["peak_gb"];
    if (cpp.contains("peak_gb")) summary["cpp_peak_gb"] = cpp["peak_gb"];
    if (python.contains("parameters") && python["parameters"] != cpp.at("parameters"))
      summary["warning"] = "parameter counts differ: the two sides did not build the same network";
    std::cout << summary.dump() << std::endl;
  });
}

}  // namespace vidprobe::cli
