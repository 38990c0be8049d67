#pragma once
// Parameter names of the reference implementations, mapped onto the probe's module tree, so that
// their checkpoints load strictly:
//   the authors' probe (ProbeModelPA of zxhuang1698/VidFM3D: backbone.* = VGGT-style trunk with
//   backbone.input_proj.0 / .1 = LayerNorm / Linear, and VGGT's heads, see nn/head_names.h), its
//   keys optionally under "probe." as in their Lightning checkpoints.
#include <string>

#include "vidprobe/io/safetensors_torch.h"

namespace vidprobe::probe {

std::string authors_probe_module_name(const std::string& reference_key);

// True when the tensors carry the authors' probe names (backbone.* or probe.backbone.*).
bool has_authors_probe_names(const TensorMap& tensors);
// The tensors renamed onto the probe's modules (an Error names a key that maps twice).
TensorMap from_authors_probe_names(TensorMap tensors, const std::string& source);

}  // namespace vidprobe::probe
