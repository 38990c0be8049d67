// An evaluation's metrics.json as `vidprobe report` and `sweep` read it: parse_json, then
// run_from_metrics_json. It refuses what it cannot take naming the file and key, or returns a run
// whose metric tables hold numbers only, as the report's tables and charts expect.
#include <cstdint>

#include "fuzz_support.h"
#include "vidprobe/core/json_fields.h"
#include "vidprobe/report/run_metrics.h"

namespace {

void require_numbers(const nlohmann::json& flat) {
  if (!flat.is_object()) std::abort();
  for (const auto& item : flat.items())
    if (!item.value().is_number()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vidprobe;
  fuzz::expect_clean([&] {
    const auto run = report::run_from_metrics_json(
        parse_json(fuzz::as_text(data, size), "metrics.json"), "metrics.json", "eval");
    require_numbers(run.metrics);
    if (!run.baseline.is_null()) require_numbers(run.baseline);
    if (run.metrics.empty()) std::abort();
  });
  return 0;
}
