#include "vidprobe/backbones/diffusion_time.h"

#include <cmath>
#include <map>

#include "vidprobe/core/error.h"
#include "vidprobe/core/text_parse.h"

namespace vidprobe::backbones {
namespace {

double flow_shift(double s, double shift) {
  return shift * s / (1 + (shift - 1) * s);
}

// numpy.linspace(start, stop, num)[i]: start + i * step, the last entry exactly stop.
double linspace_at(double start, double stop, int num, int i) {
  if (i == num - 1) return stop;
  return static_cast<double>(i) * ((stop - start) / static_cast<double>(num - 1)) + start;
}

std::map<std::string, std::string> key_values(const std::string& text, const std::string& spec) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find(',', start), text.size());
    const auto item = text.substr(start, end - start);
    const auto equals = item.find('=');
    require(equals != std::string::npos && equals > 0,
            "--timestep '" + spec + "': expected key=value, got '" + item + "'");
    out[item.substr(0, equals)] = item.substr(equals + 1);
    start = end + 1;
  }
  return out;
}

double number(const std::string& text, const std::string& what, const std::string& spec) {
  return parse_double(text, "--timestep '" + spec + "': " + what);
}

DiffusionTime unipc_time(const std::string& spec) {
  const auto values = key_values(spec.substr(std::string("unipc:").size()), spec);
  for (const auto& [key, value] : values)
    require(key == "shift" || key == "steps" || key == "index" || key == "diffusers",
            "--timestep '" + spec + "': unknown key '" + key +
                "' (unipc takes shift, steps, index, diffusers)");
  for (const char* key : {"shift", "steps", "index"})
    require(values.count(key), "--timestep '" + spec + "': missing " + key);
  const double shift = number(values.at("shift"), "shift", spec);
  const double steps = number(values.at("steps"), "steps", spec);
  const double index = number(values.at("index"), "index", spec);
  require(shift > 0 && steps >= 1 && steps <= 100000 && steps == std::floor(steps) && index >= 0 &&
              index < steps && index == std::floor(index),
          "--timestep '" + spec + "': needs shift > 0, whole steps >= 1 and 0 <= index < steps");
  const auto version = values.count("diffusers") ? values.at("diffusers") : "current";
  require(version == "current" || version == "0.36",
          "--timestep '" + spec + "': diffusers must be current (>= 0.37) or 0.36 (0.32 - 0.36)");
  const auto schedule =
      unipc_flow_schedule(shift, static_cast<int>(steps),
                          version == "current" ? UniPcFormula::kCurrent : UniPcFormula::kFlip);
  const auto i = static_cast<int>(index);
  return {static_cast<int>(schedule.timesteps[static_cast<std::size_t>(i)]),
          applied_sigma(schedule, i)};
}

DiffusionTime ddim_time(const std::string& spec) {
  const auto values = key_values(spec.substr(std::string("ddim:").size()), spec);
  for (const auto& [key, value] : values)
    require(key == "steps" || key == "index",
            "--timestep '" + spec + "': unknown key '" + key + "' (ddim takes steps, index)");
  for (const char* key : {"steps", "index"})
    require(values.count(key), "--timestep '" + spec + "': missing " + key);
  const double steps = number(values.at("steps"), "steps", spec);
  const double index = number(values.at("index"), "index", spec);
  require(steps >= 1 && steps <= 1000 && steps == std::floor(steps) && index >= 0 &&
              index < steps && index == std::floor(index),
          "--timestep '" + spec + "': needs whole steps in 1..1000 and 0 <= index < steps");
  return {
      static_cast<int>(ddim_trailing_timestep(static_cast<int>(steps), static_cast<int>(index))),
      std::nullopt};
}

}  // namespace

std::int64_t ddim_trailing_timestep(int steps, int index, int num_train_timesteps) {
  require(steps >= 1 && steps <= num_train_timesteps && index >= 0 && index < steps,
          "ddim schedule: needs 1 <= steps <= " + std::to_string(num_train_timesteps) +
              " and 0 <= index < steps");
  const double ratio = static_cast<double>(num_train_timesteps) / steps;
  return static_cast<std::int64_t>(std::nearbyint(num_train_timesteps - index * ratio)) - 1;
}

FlowSchedule unipc_flow_schedule(double shift, int steps, UniPcFormula formula,
                                 int num_train_timesteps) {
  require(steps >= 1 && shift > 0, "unipc schedule: needs steps >= 1 and shift > 0");
  const double n = num_train_timesteps;
  FlowSchedule schedule;
  for (int i = 0; i < steps; ++i) {
    double sigma = 0;
    if (formula == UniPcFormula::kCurrent) {
      sigma = flow_shift(linspace_at(1, 1 / n, steps + 1, i), shift);
      if (i == 0 && std::fabs(sigma - 1) < 1e-6) sigma -= 1e-6;
    } else {  // 1 - linspace(1, 1/N, steps + 1), shifted, flipped, the last dropped
      sigma = flow_shift(1.0 - linspace_at(1, 1 / n, steps + 1, steps - i), shift);
    }
    schedule.timesteps.push_back(static_cast<std::int64_t>(sigma * n));
    schedule.sigmas.push_back(static_cast<float>(sigma));
  }
  return schedule;
}

double applied_sigma(const FlowSchedule& schedule, int index) {
  const auto t = schedule.timesteps.at(static_cast<std::size_t>(index));
  std::vector<std::size_t> matches;
  for (std::size_t i = 0; i < schedule.timesteps.size(); ++i)
    if (schedule.timesteps[i] == t) matches.push_back(i);
  return schedule.sigmas[matches.size() > 1 ? matches[1] : matches[0]];
}

DiffusionTime parse_diffusion_time(const std::string& spec) {
  require(!spec.empty(), "--timestep is empty");
  if (spec.rfind("unipc:", 0) == 0) return unipc_time(spec);
  if (spec.rfind("ddim:", 0) == 0) return ddim_time(spec);
  if (spec.rfind("sigma=", 0) == 0) {
    const double sigma = number(spec.substr(6), "sigma", spec);
    require(sigma >= 0 && sigma <= 1, "--timestep '" + spec + "': sigma must be within [0, 1]");
    return {static_cast<int>(sigma * 1000), sigma};
  }
  const double t = number(spec, "a timestep", spec);
  require(t >= 0 && t <= 1000 && t == std::floor(t),
          "--timestep must be a whole number in 0..1000, sigma=S or unipc:...; got '" + spec + "'");
  return {static_cast<int>(t), std::nullopt};
}

}  // namespace vidprobe::backbones
