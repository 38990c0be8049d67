#pragma once
// The report's figures beyond the bar charts: the paper's radar view across runs and each run's
// training curves.
#include <filesystem>
#include <string>
#include <vector>

#include "vidprobe/report/report.h"

namespace vidprobe::report {

// A metric's values mapped to [0, 1] across the series drawn together, 1 = best (lower-is-better
// metrics inverted), so every axis of a radar reads "outward is better". NaN stays NaN; when all
// finite values are equal (no ranking) they map to 0.5.
std::vector<double> normalize_for_radar(const std::vector<double>& values, bool higher_is_better);

// One dataset's radar charts: vidprobe's metrics over its runs and the constant predictor, and,
// when runs carry the paper's metrics, those with the paper's published rows as dashed polygons.
std::string html_radar_section(const std::vector<RunResult>& runs, const std::string& dataset);

// The losses (log scale), validation metrics and learning rate of the run whose evaluation is in
// eval_dir, read from <run>/train_log.jsonl (the trainer's log, one JSON object per logged step);
// empty when the run has no log. Throws vidprobe::Error naming the file and line when a line is
// not JSON.
std::string html_training_curves(const std::filesystem::path& eval_dir);

}  // namespace vidprobe::report
