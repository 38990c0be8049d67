#include "vidprobe/probe/checkpoint.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

#include "vidprobe/core/atomic_file.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/io/gzip.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/probe/reference_names.h"

namespace vidprobe::probe {
namespace fs = std::filesystem;

TensorMap module_state(const torch::nn::Module& module) {
  TensorMap state;
  for (const auto& p : module.named_parameters())
    state.emplace(p.key(), p.value().detach().to(torch::kCPU).contiguous().clone());
  for (const auto& b : module.named_buffers())
    state.emplace(b.key(), b.value().detach().to(torch::kCPU).contiguous().clone());
  return state;
}

void load_module_state(torch::nn::Module& module, const TensorMap& state,
                       const std::string& source) {
  torch::NoGradGuard no_grad;
  std::size_t used = 0;
  auto assign = [&](const std::string& name, torch::Tensor& target) {
    const auto it = state.find(name);
    require(it != state.end(), source + ": missing tensor '" + name + "'");
    require(it->second.sizes() == target.sizes(),
            source + ": tensor '" + name + "' has shape " + c10::str(it->second.sizes()) +
                " but the probe expects " + c10::str(target.sizes()));
    // copy_ would convert integer data silently (as load_module_strict refuses for backbones).
    require(!target.is_floating_point() || it->second.is_floating_point(),
            source + ": tensor '" + name + "' is stored as " +
                std::string(c10::toString(it->second.scalar_type())) +
                ", not a floating type, but the probe's parameter is " +
                std::string(c10::toString(target.scalar_type())));
    target.copy_(it->second);
    ++used;
  };
  for (auto& p : module.named_parameters()) assign(p.key(), p.value());
  for (auto& b : module.named_buffers()) assign(b.key(), b.value());
  if (used != state.size()) {
    auto params = module.named_parameters();
    auto buffers = module.named_buffers();
    for (const auto& [name, tensor] : state)
      require(params.contains(name) || buffers.contains(name),
              source + ": unexpected tensor '" + name + "' (a different probe configuration?)");
  }
}

void save_weights(const fs::path& path, const torch::nn::Module& module,
                  const std::map<std::string, std::string>& metadata) {
  save_safetensors(path, module_state(module), metadata);
}

void load_weights(const fs::path& path, torch::nn::Module& module) {
  require(fs::exists(path), "weights file " + path.string() + " does not exist");
  auto tensors = load_safetensors(path);
  if (has_authors_probe_names(tensors))
    tensors = from_authors_probe_names(std::move(tensors), path.string());
  load_module_state(module, tensors, path.string());
}

fs::path checkpoint_dir(const fs::path& run_dir, std::int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step_%08lld", static_cast<long long>(step));
  return run_dir / "checkpoints" / name;
}

namespace {

// libtorch's messages carry a backtrace after the first line.
std::string first_line(const std::string& message) {
  return message.substr(0, message.find('\n'));
}

std::vector<std::pair<std::int64_t, fs::path>> list_checkpoints(const fs::path& run_dir) {
  std::vector<std::pair<std::int64_t, fs::path>> found;
  const auto root = run_dir / "checkpoints";
  if (!fs::is_directory(root)) return found;
  for (const auto& entry : fs::directory_iterator(root)) {
    const auto name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("step_", 0) != 0 || name.size() != 13) continue;
    if (name.find_first_not_of("0123456789", 5) != std::string::npos) continue;
    found.emplace_back(std::stoll(name.substr(5)), entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

std::optional<fs::path> latest_checkpoint(const fs::path& run_dir) {
  const auto found = list_checkpoints(run_dir);
  if (found.empty()) return std::nullopt;
  return found.back().second;
}

namespace {

// Streams the optimizer's archive to `path`. libtorch finishes the zip in its writer's destructor,
// where a failed write (a full disk) would throw from a destructor and terminate the process with
// the checkpoint's temporary left behind; so the writer is always told the bytes went out, and the
// first failure is reported once it has finished, naming the file and the cause.
void save_optimizer(const fs::path& path, torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  require(out.good(), "cannot create " + path.string() + ": " + std::strerror(errno));
  int failure = 0;
  archive.save_to([&](const void* data, std::size_t size) -> std::size_t {
    errno = 0;
    if (failure == 0 &&
        !out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size)))
      failure = errno != 0 ? errno : EIO;
    return size;
  });
  errno = 0;
  out.close();
  if (failure == 0 && out.fail()) failure = errno != 0 ? errno : EIO;
  require(failure == 0, "cannot write " + path.string() + ": " + std::strerror(failure));
}

}  // namespace

void save_checkpoint(const fs::path& run_dir, std::int64_t step, const torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer, const nlohmann::json& state, int keep) {
  const auto dir = checkpoint_dir(run_dir, step);
  fs::create_directories(dir.parent_path());
  if (fs::exists(dir)) fs::remove_all(dir);  // a re-run of the same step after a resume
  write_directory_atomically(dir, [&](const fs::path& tmp) {
    save_weights(tmp / "model.safetensors", model, {{"step", std::to_string(step)}});
    save_optimizer(tmp / "optimizer.pt", optimizer);
    write_file_atomically(tmp / "state.json", state.dump(2));
  });
  auto found = list_checkpoints(run_dir);
  while (static_cast<int>(found.size()) > keep) {
    fs::remove_all(found.front().second);
    found.erase(found.begin());
  }
}

nlohmann::json load_checkpoint(const fs::path& dir, torch::nn::Module& model,
                               torch::optim::Optimizer& optimizer) {
  load_weights(dir / "model.safetensors", model);
  const auto optimizer_path = dir / "optimizer.pt";
  require(fs::exists(optimizer_path), "checkpoint " + dir.string() + " has no optimizer.pt");
  torch::serialize::InputArchive archive;
  // Optimiser state goes to the device the model lives on.
  const auto parameters = model.parameters();
  archive.load_from(optimizer_path.string(),
                    parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device());
  optimizer.load(archive);
  try {
    return read_json_file(dir / "state.json");
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint " + (dir / "state.json").string() + " is not valid JSON: " + e.what());
  }
}

std::optional<ResumePoint> load_newest_good_checkpoint(const fs::path& run_dir,
                                                       torch::nn::Module& model,
                                                       torch::optim::Optimizer& optimizer) {
  const auto found = list_checkpoints(run_dir);
  if (found.empty()) {
    // A run killed before its first checkpoint: nothing to continue from (said, not silent).
    std::cerr << "train --resume: " << run_dir.string()
              << " has no checkpoint yet; starting from step 0\n";
    return std::nullopt;
  }
  std::string faults;
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    const fs::path& dir = it->second;
    try {
      // A failed attempt may have loaded part of the state; the next success overwrites all of
      // it (the weights strictly, the optimiser wholesale).
      const auto state = load_checkpoint(dir, model, optimizer);
      const auto step = json_get<std::int64_t>(state, "step", (dir / "state.json").string());
      require(step >= 0, (dir / "state.json").string() + ": key 'step' is negative");
      if (it != found.rbegin())
        std::cerr << "train --resume: continuing from " << dir.string() << " (step " << step
                  << ") instead of the newer checkpoint(s) that do not load\n";
      return ResumePoint{dir, step};
    } catch (const std::exception& e) {
      // Memory full, not the checkpoint damaged: the next one would fail the same way.
      if (nn::is_out_of_memory(e)) throw;
      // c10::Error from a damaged optimizer.pt, vidprobe::Error from the weights or state.json.
      const std::string reason = first_line(e.what());
      std::cerr << "train --resume: checkpoint " << dir.string() << " does not load (" << reason
                << ")\n";
      faults += "\n  " + dir.string() + ": " + reason;
    }
  }
  throw Error("train --resume: no checkpoint of " + run_dir.string() + " loads:" + faults);
}

}  // namespace vidprobe::probe
