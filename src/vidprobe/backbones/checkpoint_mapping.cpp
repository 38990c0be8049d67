#include "vidprobe/backbones/checkpoint_mapping.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "vidprobe/core/error.h"
#include "vidprobe/io/pickle_torch.h"

namespace vidprobe::backbones {
namespace {

constexpr std::size_t kListedPerKind = 8;  // enough to see the pattern, short enough to read

bool starts_with_any(const std::string& key, const std::vector<std::string>& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& prefix) { return key.starts_with(prefix); });
}

std::string shape_text(const Shape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// "layer.2" before "layer.10": runs of digits compare as numbers.
bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t i_end = i, j_end = j;
      while (i_end < a.size() && std::isdigit(static_cast<unsigned char>(a[i_end]))) ++i_end;
      while (j_end < b.size() && std::isdigit(static_cast<unsigned char>(b[j_end]))) ++j_end;
      const auto number_a = std::stoull(a.substr(i, i_end - i)),
                 number_b = std::stoull(b.substr(j, j_end - j));
      if (number_a != number_b) return number_a < number_b;
      i = i_end;
      j = j_end;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

void list_keys(std::ostringstream& out, const std::string& kind, std::vector<std::string> lines) {
  if (lines.empty()) return;
  std::sort(lines.begin(), lines.end(), natural_less);
  out << "\n  " << lines.size() << " " << kind << ":";
  for (std::size_t i = 0; i < std::min(lines.size(), kListedPerKind); ++i)
    out << "\n    " << lines[i];
  if (lines.size() > kListedPerKind)
    out << "\n    ... and " << lines.size() - kListedPerKind << " more";
}

void require_shapes(const ShapeMap& actual, const ShapeMap& expected, const std::string& source,
                    const std::string& architecture) {
  std::vector<std::string> missing, unexpected, wrong_shape;
  for (const auto& [key, shape] : expected) {
    const auto found = actual.find(key);
    if (found == actual.end())
      missing.push_back(key + " " + shape_text(shape));
    else if (found->second != shape)
      wrong_shape.push_back(key + ": expected " + shape_text(shape) + ", checkpoint has " +
                            shape_text(found->second));
  }
  for (const auto& [key, shape] : actual)
    if (!expected.contains(key)) unexpected.push_back(key + " " + shape_text(shape));
  if (missing.empty() && unexpected.empty() && wrong_shape.empty()) return;
  std::ostringstream message;
  message << "checkpoint '" << source << "' does not match the architecture " << architecture
          << " (is it a checkpoint of another model or size?):";
  list_keys(message, "wrong shape", wrong_shape);
  list_keys(message, "missing", missing);
  list_keys(message, "unexpected", unexpected);
  throw Error(message.str());
}

// copy_ converts silently: integer bits labelled as a weight (I32 where F32 belongs) would load as
// numbers that no float checkpoint holds, so a floating parameter takes floating data only.
void require_floating_where_floating(const torch::nn::Module& module, const TensorMap& tensors,
                                     const std::string& source) {
  const auto check = [&](const std::string& key, const torch::Tensor& target) {
    const auto& stored = tensors.at(key);
    require(!target.is_floating_point() || stored.is_floating_point(), [&] {
      return "checkpoint '" + source + "': tensor '" + key + "' is stored as " +
             std::string(c10::toString(stored.scalar_type())) +
             ", not a floating type, but the module's parameter is " +
             std::string(c10::toString(target.scalar_type()));
    });
  };
  for (const auto& item : module.named_parameters(true)) check(item.key(), item.value());
  for (const auto& item : module.named_buffers(true)) check(item.key(), item.value());
}

}  // namespace

TensorMap select_backbone_tensors(TensorMap checkpoint, const CheckpointKeyRules& rules) {
  std::string wrapper;
  for (const auto& prefix : rules.wrapper_prefixes) {
    const bool wraps = std::any_of(checkpoint.begin(), checkpoint.end(), [&](const auto& entry) {
      return entry.first.starts_with(prefix);
    });
    if (wraps) {
      wrapper = prefix;
      break;
    }
  }
  TensorMap selected;
  for (auto& [key, tensor] : checkpoint) {
    const bool wrapped = !wrapper.empty() && key.starts_with(wrapper);
    auto name = wrapped ? key.substr(wrapper.size()) : key;
    if (!starts_with_any(name, rules.ignored_prefixes)) selected[name] = std::move(tensor);
  }
  return selected;
}

void require_layout(const TensorMap& tensors, const ShapeMap& expected, const std::string& source,
                    const std::string& architecture) {
  require_shapes(shapes_of(tensors), expected, source, architecture);
}

void load_module_strict(torch::nn::Module& module, const TensorMap& tensors,
                        const std::string& source, const std::string& architecture) {
  require_shapes(shapes_of(tensors), module_shapes(module), source, architecture);
  require_floating_where_floating(module, tensors, source);
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(true)) item.value().copy_(tensors.at(item.key()));
  for (auto& item : module.named_buffers(true)) item.value().copy_(tensors.at(item.key()));
}

ShapeMap shapes_of(const TensorMap& tensors) {
  ShapeMap shapes;
  for (const auto& [key, tensor] : tensors) shapes[key] = tensor.sizes().vec();
  return shapes;
}

ShapeMap module_shapes(const torch::nn::Module& module) {
  ShapeMap shapes;
  for (const auto& item : module.named_parameters(true))
    shapes[item.key()] = item.value().sizes().vec();
  for (const auto& item : module.named_buffers(true))
    shapes[item.key()] = item.value().sizes().vec();
  return shapes;
}

int64_t element_count(const ShapeMap& shapes) {
  int64_t count = 0;
  for (const auto& [key, shape] : shapes) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    count += n;
  }
  return count;
}

TensorMap meta_tensors(const ShapeMap& shapes) {
  TensorMap tensors;
  for (const auto& [key, shape] : shapes)
    tensors[key] = torch::empty(shape, torch::TensorOptions().device(torch::kMeta));
  return tensors;
}

void rename_key(TensorMap& tensors, const std::string& from, const std::string& to) {
  auto node = tensors.extract(from);
  require(!node.empty(), "checkpoint key '" + from + "' is missing");
  node.key() = to;
  tensors.insert(std::move(node));
}

void fuse_keys(TensorMap& tensors, const std::vector<std::string>& parts,
               const std::string& fused) {
  std::vector<torch::Tensor> pieces;
  for (const auto& part : parts) {
    auto node = tensors.extract(part);
    require(!node.empty(), "checkpoint key '" + part + "' is missing");
    // torch::cat promotes mixed dtypes, which would hide an integer piece from the check of
    // load_module_strict: the pieces of one parameter share one stored dtype.
    require(pieces.empty() || node.mapped().scalar_type() == pieces.front().scalar_type(), [&] {
      return "checkpoint key '" + part + "' is stored as " +
             std::string(c10::toString(node.mapped().scalar_type())) + " but '" + parts.front() +
             "' as " + std::string(c10::toString(pieces.front().scalar_type())) +
             " (they are parts of one parameter)";
    });
    pieces.push_back(std::move(node.mapped()));
  }
  tensors[fused] = torch::cat(pieces, 0);
}

TensorMap read_checkpoint(const std::string& path, const std::string& backbone) {
  require(!path.empty(), "backbone '" + backbone + "' needs a checkpoint (--weights FILE or DIR)");
  // torch.save files are told apart by content (a zip archive), not by their name (.pth.tar).
  if (std::filesystem::is_regular_file(path) && is_torch_zip_file(path))
    return load_torch_zip_tensors(path);
  return load_checkpoint(path);
}

}  // namespace vidprobe::backbones
