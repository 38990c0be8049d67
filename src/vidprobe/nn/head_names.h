#pragma once
// VGGT's parameter names of its heads (facebookresearch/vggt: camera_head.poseLN_modulation.1,
// camera_head.empty_pose_tokens, *_head.scratch.layer<k>_rn, *_head.scratch.refinenet<k>.
// resConfUnit<j>, ...) mapped onto the module tree of nn's heads, so that VGGT's checkpoints and
// the authors' probe (which uses VGGT's heads) load strictly.
#include <string>

namespace vidprobe::nn {

// The module name for a reference key; keys outside the heads come back unchanged.
std::string vggt_head_module_name(const std::string& reference_key);

}  // namespace vidprobe::nn
