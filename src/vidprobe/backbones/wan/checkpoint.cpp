#include "vidprobe/backbones/wan/checkpoint.h"

#include <cmath>
#include <sstream>

#include "vidprobe/core/error.h"

namespace vidprobe::backbones::wan {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::string shape_string(c10::IntArrayRef shape) {
  std::ostringstream out;
  out << shape;
  return out.str();
}

// Lists at most a screenful, then a count, so huge mismatches stay readable.
void append_list(std::string& message, const std::string& title,
                 const std::vector<std::string>& items) {
  if (items.empty()) return;
  message += "\n  " + title + " (" + std::to_string(items.size()) + "):";
  const std::size_t shown = std::min<std::size_t>(items.size(), 24);
  for (std::size_t i = 0; i < shown; ++i) message += "\n    " + items[i];
  if (shown < items.size())
    message += "\n    ... and " + std::to_string(items.size() - shown) + " more";
}

}  // namespace

torch::Dtype Parameters::storage_dtype(ParamKind kind) const {
  return kind == ParamKind::kWeight || kind == ParamKind::kBias ? dtype_ : torch::kFloat32;
}

void Parameters::add(const std::string& name, std::vector<int64_t> shape, ParamKind kind) {
  require(!entries_.count(name), "parameter '" + name + "' declared twice");
  auto tensor =
      torch::empty(shape, torch::TensorOptions().dtype(storage_dtype(kind)).device(device_));
  entries_.emplace(name, Entry{std::move(tensor), kind});
}

const torch::Tensor& Parameters::operator[](const std::string& name) const {
  const auto it = entries_.find(name);
  require(it != entries_.end(), "the model has no parameter '" + name + "'");
  return it->second.tensor;
}

std::vector<std::string> Parameters::names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

int64_t Parameters::count() const {
  int64_t total = 0;
  for (const auto& [name, entry] : entries_) total += entry.tensor.numel();
  return total;
}

std::size_t Parameters::bytes() const {
  std::size_t total = 0;
  for (const auto& [name, entry] : entries_)
    total += static_cast<std::size_t>(entry.tensor.numel()) * entry.tensor.element_size();
  return total;
}

void Parameters::to(torch::Device device, torch::Dtype dtype) {
  device_ = device;
  dtype_ = dtype;
  for (auto& [name, entry] : entries_)
    entry.tensor = entry.tensor.to(device, storage_dtype(entry.kind));
}

void Parameters::randomize(std::uint64_t seed) {
  if (device_.is_meta()) return;
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& [name, entry] : entries_) {
    auto& t = entry.tensor;
    switch (entry.kind) {
      case ParamKind::kBias:
      case ParamKind::kFloat32Bias:
        t.zero_();
        break;
      case ParamKind::kScale:
        t.fill_(1.0);
        break;
      case ParamKind::kWeight:
      case ParamKind::kFloat32: {
        const int64_t fan_in = t.dim() >= 2 ? t.numel() / t.size(0) : t.numel();
        t.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in, 1))));
        break;
      }
    }
  }
}

void Parameters::load(TensorMap&& checkpoint, const std::string& source,
                      const std::function<bool(const std::string&)>& ignore) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> missing, mismatched, unexpected, not_float;
  for (auto& [name, entry] : entries_) {
    auto found = checkpoint.find(name);
    if (found == checkpoint.end()) {
      missing.push_back(name + " " + shape_string(entry.tensor.sizes()));
      continue;
    }
    const auto& value = found->second;
    if (value.sizes() != entry.tensor.sizes()) {
      mismatched.push_back(name + ": checkpoint " + shape_string(value.sizes()) + " vs model " +
                           shape_string(entry.tensor.sizes()));
    } else if (!value.is_floating_point()) {
      not_float.push_back(name + " (" + std::string(c10::toString(value.scalar_type())) + ")");
    } else if (!device_.is_meta()) {
      entry.tensor.copy_(value);
    }
    checkpoint.erase(found);  // frees host memory as the model fills up
  }
  for (const auto& [name, value] : checkpoint)
    if (!ignore || !ignore(name)) unexpected.push_back(name + " " + shape_string(value.sizes()));
  if (missing.empty() && mismatched.empty() && unexpected.empty() && not_float.empty()) return;
  std::string message = "checkpoint '" + source + "' does not match the model";
  append_list(message, "shape mismatches", mismatched);
  append_list(message, "missing keys", missing);
  append_list(message, "unexpected keys", unexpected);
  append_list(message, "non-float tensors", not_float);
  throw Error(message);
}

// ---- transformer keys ---------------------------------------------------------------------------

std::string dit_key_from_original(const std::string& key) {
  static const std::vector<std::pair<std::string, std::string>> top_level = {
      {"time_embedding.0.", "condition_embedder.time_embedder.linear_1."},
      {"time_embedding.2.", "condition_embedder.time_embedder.linear_2."},
      {"text_embedding.0.", "condition_embedder.text_embedder.linear_1."},
      {"text_embedding.2.", "condition_embedder.text_embedder.linear_2."},
      {"time_projection.1.", "condition_embedder.time_proj."},
      {"head.head.", "proj_out."},
  };
  if (key == "head.modulation") return "scale_shift_table";
  for (const auto& [from, to] : top_level)
    if (starts_with(key, from)) return to + key.substr(from.size());
  if (!starts_with(key, "blocks.")) return key;
  const auto dot = key.find('.', 7);
  if (dot == std::string::npos) return key;
  const std::string block = key.substr(0, dot + 1);  // "blocks.N."
  std::string rest = key.substr(dot + 1);
  if (rest == "modulation") return block + "scale_shift_table";
  if (starts_with(rest, "norm3.")) return block + "norm2." + rest.substr(6);
  if (starts_with(rest, "norm2.")) return block + "norm3." + rest.substr(6);
  if (starts_with(rest, "ffn.0.")) return block + "ffn.net.0.proj." + rest.substr(6);
  if (starts_with(rest, "ffn.2.")) return block + "ffn.net.2." + rest.substr(6);
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"self_attn.", "attn1."}, {"cross_attn.", "attn2."}}) {
    if (!starts_with(rest, from)) continue;
    std::string inner = rest.substr(from.size());
    for (const auto& [p, q] : {std::pair<std::string, std::string>{"q.", "to_q."},
                               {"k.", "to_k."},
                               {"v.", "to_v."},
                               {"o.", "to_out.0."}})
      if (starts_with(inner, p)) return block + to + q + inner.substr(p.size());
    return block + to + inner;  // norm_q / norm_k keep their names
  }
  return key;
}

bool is_original_dit_layout(const TensorMap& tensors) {
  for (const auto& [name, tensor] : tensors)
    if (name.find("self_attn.") != std::string::npos || starts_with(name, "head.head.") ||
        starts_with(name, "time_embedding.") || starts_with(name, "model.diffusion_model."))
      return true;
  return false;
}

TensorMap to_diffusers_dit_layout(TensorMap&& tensors) {
  if (!is_original_dit_layout(tensors)) return std::move(tensors);
  TensorMap mapped;
  const std::string prefix = "model.diffusion_model.";
  for (auto& [name, tensor] : tensors) {
    const std::string stripped = starts_with(name, prefix) ? name.substr(prefix.size()) : name;
    mapped.emplace(dit_key_from_original(stripped), std::move(tensor));
  }
  return mapped;
}

// ---- VAE keys -----------------------------------------------------------------------------------

namespace {

std::string vae_resnet_key(const std::string& rest) {
  static const std::vector<std::pair<std::string, std::string>> renames = {
      {"residual.0.", "norm1."},
      {"residual.2.", "conv1."},
      {"residual.3.", "norm2."},
      {"residual.6.", "conv2."},
      {"shortcut.", "conv_shortcut."}};
  for (const auto& [from, to] : renames)
    if (starts_with(rest, from)) return to + rest.substr(from.size());
  return rest;  // resample.1.*, time_conv.* keep their names
}

// encoder.middle.N / decoder.middle.N: resnet, attention, resnet.
std::string vae_middle_key(const std::string& side, const std::string& key) {
  const std::string middle = side + ".middle.";
  if (!starts_with(key, middle) || key.size() <= middle.size() + 2) return key;
  const char index = key[middle.size()];
  const std::string rest = key.substr(middle.size() + 2);
  if (index == '0') return side + ".mid_block.resnets.0." + vae_resnet_key(rest);
  if (index == '2') return side + ".mid_block.resnets.1." + vae_resnet_key(rest);
  if (index == '1') return side + ".mid_block.attentions.0." + rest;
  return key;
}

// The original decoder.upsamples is one flat sequence: per up block num_res_blocks + 1 resnets,
// then its upsampler (not after the last block); diffusers groups them into up_blocks.
std::string vae_upsample_key(const std::string& key, int num_res_blocks) {
  const std::string up = "decoder.upsamples.";
  const auto dot = key.find('.', up.size());
  if (dot == std::string::npos) return key;
  const auto digits = key.substr(up.size(), dot - up.size());
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return key;
  const int flat = std::stoi(digits), resnets = num_res_blocks + 1;
  const int block = flat / (resnets + 1), position = flat % (resnets + 1);
  const std::string prefix = "decoder.up_blocks." + std::to_string(block) + ".";
  const std::string rest = key.substr(dot + 1);
  if (position == resnets) return prefix + "upsamplers.0." + rest;
  return prefix + "resnets." + std::to_string(position) + "." + vae_resnet_key(rest);
}

}  // namespace

std::string vae_key_from_original(const std::string& key, int num_res_blocks) {
  static const std::vector<std::pair<std::string, std::string>> renames = {
      {"conv1.", "quant_conv."},
      {"conv2.", "post_quant_conv."},
      {"encoder.conv1.", "encoder.conv_in."},
      {"encoder.head.0.", "encoder.norm_out."},
      {"encoder.head.2.", "encoder.conv_out."},
      {"decoder.conv1.", "decoder.conv_in."},
      {"decoder.head.0.", "decoder.norm_out."},
      {"decoder.head.2.", "decoder.conv_out."}};
  for (const auto& [from, to] : renames)
    if (starts_with(key, from)) return to + key.substr(from.size());
  const std::string down = "encoder.downsamples.";
  if (starts_with(key, down)) {
    const auto dot = key.find('.', down.size());
    if (dot == std::string::npos) return key;
    return "encoder.down_blocks." + key.substr(down.size(), dot - down.size()) + "." +
           vae_resnet_key(key.substr(dot + 1));
  }
  if (starts_with(key, "decoder.upsamples.")) return vae_upsample_key(key, num_res_blocks);
  if (starts_with(key, "encoder.middle.")) return vae_middle_key("encoder", key);
  if (starts_with(key, "decoder.middle.")) return vae_middle_key("decoder", key);
  return key;
}

TensorMap to_diffusers_vae_layout(TensorMap&& tensors, int num_res_blocks) {
  const bool original = tensors.count("encoder.conv1.weight") || tensors.count("conv1.weight") ||
                        tensors.count("decoder.conv1.weight") || tensors.count("conv2.weight");
  if (!original) return std::move(tensors);
  TensorMap mapped;
  for (auto& [name, tensor] : tensors)
    mapped.emplace(vae_key_from_original(name, num_res_blocks), std::move(tensor));
  return mapped;
}

bool is_vae_decoder_key(const std::string& key) {
  return starts_with(key, "decoder.") || starts_with(key, "post_quant_conv.");
}

}  // namespace vidprobe::backbones::wan
