#pragma once
// The paper's published probe results (Huang et al., "How Much 3D Do Video Foundation Models
// Encode?", main table: the probe on frozen features), so a report can put them next to a run that
// followed the same protocol on the same data.
#include <optional>
#include <string>
#include <vector>

namespace vidprobe::report {

struct PaperResult {
  std::string dataset;  // "co3d" | "dl3dv"
  std::string model;    // the paper's name, e.g. "WAN2.1-14B"
  double point_error, depth_error, auc5, auc30;
};

const std::vector<PaperResult>& paper_results();

// The paper's row for a vidprobe backbone name (e.g. "wan2.1-t2v-14b", "dinov2-vitl14") on a
// dataset kind ("co3d", "dl3dv"), if the paper reports that pair.
std::optional<PaperResult> paper_result_for(const std::string& backbone,
                                            const std::string& dataset_kind);

}  // namespace vidprobe::report
