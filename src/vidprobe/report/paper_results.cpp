#include "vidprobe/report/paper_results.h"

#include <map>

namespace vidprobe::report {

const std::vector<PaperResult>& paper_results() {
  // Point error, depth error, AUC@5, AUC@30 (the authors' pmap_mse_aligned, loss_depth, Auc_5,
  // Auc_30; docs/protocol.md).
  static const std::vector<PaperResult> results = {
      {"co3d", "DINOv2", 0.559, 0.209, 0.051, 0.508},
      {"co3d", "V-JEPA", 0.439, 0.214, 0.076, 0.619},
      {"co3d", "CogVideoX", 0.485, 0.231, 0.051, 0.569},
      {"co3d", "Aether", 0.501, 0.249, 0.054, 0.571},
      {"co3d", "Open-Sora2.0", 0.391, 0.196, 0.096, 0.643},
      {"co3d", "WAN2.1-14B", 0.284, 0.151, 0.200, 0.736},
      {"co3d", "Fast3R", 0.262, 0.145, 0.272, 0.769},
      {"dl3dv", "DINOv2", 2.814, 0.534, 0.013, 0.245},
      {"dl3dv", "V-JEPA", 1.576, 0.613, 0.076, 0.558},
      {"dl3dv", "CogVideoX", 1.748, 0.608, 0.061, 0.486},
      {"dl3dv", "Aether", 1.566, 0.574, 0.067, 0.527},
      {"dl3dv", "Open-Sora2.0", 1.306, 0.445, 0.115, 0.607},
      {"dl3dv", "WAN2.1-14B", 1.051, 0.323, 0.136, 0.660},
      {"dl3dv", "Fast3R", 1.379, 0.514, 0.134, 0.637},
  };
  return results;
}

std::optional<PaperResult> paper_result_for(const std::string& backbone,
                                            const std::string& dataset_kind) {
  // The backbones the paper probes, as vidprobe registers them (the paper's DINOv2 is ViT-L
  // without registers; its WAN rows are the T2V models) and as `import vidfm3d` names the
  // authors' own feature files.
  static const std::map<std::string, std::string> paper_names = {
      {"dinov2-vitl14", "DINOv2"},       {"wan2.1-t2v-14b", "WAN2.1-14B"},
      {"cogvideox-5b-i2v", "CogVideoX"}, {"aether", "Aether"},
      {"opensora-2.0", "Open-Sora2.0"},  {"fast3r", "Fast3R"},
      {"vjepa-vith16-384", "V-JEPA"},    {"vidfm3d:dino", "DINOv2"},
      {"vidfm3d:wan-14b", "WAN2.1-14B"}, {"vidfm3d:cogvideox", "CogVideoX"},
      {"vidfm3d:aether", "Aether"},      {"vidfm3d:opensora", "Open-Sora2.0"},
      {"vidfm3d:f3r", "Fast3R"},         {"vidfm3d:vjepa", "V-JEPA"}};
  const auto name = paper_names.find(backbone);
  if (name == paper_names.end()) return std::nullopt;
  for (const auto& row : paper_results())
    if (row.dataset == dataset_kind && row.model == name->second) return row;
  return std::nullopt;
}

}  // namespace vidprobe::report
