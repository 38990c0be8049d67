#pragma once
// Strict checkpoint loading shared by the backbone families: a published checkpoint is first
// reduced to the backbone's own keys (wrapper prefixes such as `dinov2.` stripped, task heads
// dropped), then compared key by key and shape by shape with the layout the architecture
// expects, and only then copied into the module. Any difference is a vidprobe::Error that lists
// the first offending keys: a checkpoint is never loaded partially.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vidprobe/backbones/shape_map.h"
#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::backbones {

// How a family's checkpoints wrap the backbone.
struct CheckpointKeyRules {
  // Prefixes under which task models nest the backbone (e.g. "dinov2." in
  // Dinov2ForImageClassification). When a checkpoint has keys under one of them, only those keys
  // (prefix removed) are the backbone.
  std::vector<std::string> wrapper_prefixes;
  // Keys of parts that are not the backbone and are legitimately dropped (classifier heads,
  // pre-training decoders and predictors), matched as prefixes of the key once any wrapper
  // prefix is removed.
  std::vector<std::string> ignored_prefixes;
};

// The backbone's tensors of a checkpoint. Keys that are neither backbone nor ignored are kept
// (under their full name) so that require_layout reports them as unexpected.
TensorMap select_backbone_tensors(TensorMap checkpoint, const CheckpointKeyRules& rules);

// Throws vidprobe::Error unless `tensors` has exactly the keys and shapes of `expected`. The
// message names `source` (the checkpoint) and `architecture` and lists the first missing,
// unexpected and wrongly shaped keys with their shapes.
void require_layout(const TensorMap& tensors, const ShapeMap& expected, const std::string& source,
                    const std::string& architecture);

// Copies `tensors` into the module's parameters and buffers (converting dtype and device);
// the key sets and shapes must match exactly (checked as require_layout does).
void load_module_strict(torch::nn::Module& module, const TensorMap& tensors,
                        const std::string& source, const std::string& architecture);

ShapeMap shapes_of(const TensorMap& tensors);
ShapeMap module_shapes(const torch::nn::Module& module);  // parameters and buffers
int64_t element_count(const ShapeMap& shapes);
// Shape-only tensors (meta device): runs the key mappings of a real-size layout without memory.
TensorMap meta_tensors(const ShapeMap& shapes);

// Renames the key `from` to `to` (throws naming `from` when absent).
void rename_key(TensorMap& tensors, const std::string& from, const std::string& to);
// Replaces the keys `parts` by their concatenation along dim 0 under `fused` (all must exist).
void fuse_keys(TensorMap& tensors, const std::vector<std::string>& parts, const std::string& fused);

// Checkpoint path (file or directory) -> the tensors, with a message naming the backbone. A
// safetensors file or directory (io/safetensors_torch.h), or a zip-format torch.save file with
// its nested dicts flattened (io/pickle_torch.h: "encoder.module.backbone.<name>").
TensorMap read_checkpoint(const std::string& path, const std::string& backbone);

}  // namespace vidprobe::backbones
