// The one main() of vidprobe_bench: every bench/<topic>_bench.cpp only registers benchmarks. The
// allocator is set as vidprobe's own main() sets it, so that the loader stages cost what they
// cost in `vidprobe extract`.
#include <benchmark/benchmark.h>

#include "vidprobe/core/allocator.h"

int main(int argc, char** argv) {
  vidprobe::keep_freed_memory_for_reuse();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
