// The one main() of vidprobe_bench: every bench/<topic>_bench.cpp only registers benchmarks.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
