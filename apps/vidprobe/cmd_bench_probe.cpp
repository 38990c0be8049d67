// `vidprobe bench probe`: training steps/s of the default probe, optionally next to the same probe
// written in PyTorch Python (bench/probe_reference.py) run with identical arguments on this
// machine, so the printed ratio compares like with like.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "commands.h"
#include "vidprobe/core/error.h"
#include "vidprobe/probe/probe_bench.h"

namespace vidprobe::cli {
namespace {

struct BenchProbeArgs {
  probe::ProbeBenchOptions options;
  bool reference = false;
  std::string python = VIDPROBE_DEFAULT_PYTHON;
  std::string reference_script = VIDPROBE_SOURCE_DIR "/bench/probe_reference.py";
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

nlohmann::json run_reference(const BenchProbeArgs& a) {
  require(std::filesystem::exists(a.reference_script),
          "bench probe: reference script not found: " + a.reference_script);
  const auto& o = a.options;
  std::ostringstream cmd;
  cmd << shell_quote(a.python) << ' ' << shell_quote(a.reference_script) << " --device "
      << shell_quote(o.device) << " --batch " << o.batch << " --frames " << o.frames
      << " --feature-dim " << o.feature_dim << " --grid " << o.grid << " --size " << o.size
      << " --warmup " << o.warmup << " --steps " << o.steps << " --threads " << o.threads;
  if (!o.config_file.empty()) cmd << " --config " << shell_quote(o.config_file);
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
  return nlohmann::json::parse(result);
}

}  // namespace

void register_bench_probe(CLI::App& bench) {
  auto* cmd = bench.add_subcommand("probe", "Probe training steps/s for the default configuration");
  auto args = std::make_shared<BenchProbeArgs>();
  auto& o = args->options;
  cmd->add_option("--config", o.config_file, "Probe config JSON (default: the paper's)");
  cmd->add_option("--device", o.device, "cpu | cuda[:i]")->capture_default_str();
  cmd->add_option("--batch", o.batch, "Clips per step")->capture_default_str();
  cmd->add_option("--frames", o.frames, "Frames per clip")->capture_default_str();
  cmd->add_option("--feature-dim", o.feature_dim, "Channels of the cached features")
      ->capture_default_str();
  cmd->add_option("--grid", o.grid, "Feature map side h = w")->capture_default_str();
  cmd->add_option("--size", o.size, "Ground-truth side H = W")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Untimed steps")->capture_default_str();
  cmd->add_option("--steps", o.steps, "Timed steps")->capture_default_str();
  cmd->add_option("--threads", o.threads, "CPU threads (0 = libtorch default)")
      ->capture_default_str();
  cmd->add_flag("--reference", args->reference,
                "Also time the PyTorch Python probe with the same arguments and print the ratio");
  cmd->add_option("--python", args->python, "Python with torch for --reference")
      ->capture_default_str();
  cmd->add_option("--reference-script", args->reference_script, "bench/probe_reference.py")
      ->capture_default_str();
  cmd->callback([args] {
    auto cpp = probe::run_probe_benchmark(args->options);
    std::cout << cpp.dump() << std::endl;
    if (!args->reference) return;
    const auto python = run_reference(*args);
    std::cout << python.dump() << std::endl;
    const double ratio =
        cpp.at("steps_per_s").get<double>() / python.at("steps_per_s").get<double>();
    nlohmann::json summary = {{"benchmark", "probe_train_step_ratio"},
                              {"device", args->options.device},
                              {"cpp_steps_per_s", cpp.at("steps_per_s")},
                              {"pytorch_steps_per_s", python.at("steps_per_s")},
                              {"cpp_over_pytorch", ratio}};
    if (python.contains("parameters") && python["parameters"] != cpp.at("parameters"))
      summary["warning"] = "parameter counts differ: the two sides did not build the same network";
    std::cout << summary.dump() << std::endl;
  });
}

}  // namespace vidprobe::cli
