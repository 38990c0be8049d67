#include "vidprobe/nn/head_names.h"

#include "vidprobe/core/rename_rules.h"

namespace vidprobe::nn {

std::string vggt_head_module_name(const std::string& key) {
  // The reference numbers the DPT levels 1..4 (layer1_rn, refinenet1); nn's lists count from 0.
  static const RenameRules rules = {
      {std::regex(R"(^camera_head\.empty_pose_tokens$)"), "camera_head.empty_pose"},
      {std::regex(R"(^camera_head\.poseLN_modulation\.1\.)"), "camera_head.modulation."},
      {std::regex(R"(^(\w+_head)\.scratch\.layer1_rn\.)"), "$1.level_convs.0."},
      {std::regex(R"(^(\w+_head)\.scratch\.layer2_rn\.)"), "$1.level_convs.1."},
      {std::regex(R"(^(\w+_head)\.scratch\.layer3_rn\.)"), "$1.level_convs.2."},
      {std::regex(R"(^(\w+_head)\.scratch\.layer4_rn\.)"), "$1.level_convs.3."},
      {std::regex(R"(^(\w+_head)\.scratch\.refinenet1\.)"), "$1.refine.0."},
      {std::regex(R"(^(\w+_head)\.scratch\.refinenet2\.)"), "$1.refine.1."},
      {std::regex(R"(^(\w+_head)\.scratch\.refinenet3\.)"), "$1.refine.2."},
      {std::regex(R"(^(\w+_head)\.scratch\.refinenet4\.)"), "$1.refine.3."},
      {std::regex(R"(\.resConfUnit1\.)"), ".unit1."},
      {std::regex(R"(\.resConfUnit2\.)"), ".unit2."},
      {std::regex(R"(^(\w+_head)\.scratch\.output_conv)"), "$1.output_conv"},
  };
  return rename_by_rules(rules, key);
}

}  // namespace vidprobe::nn
