#pragma once
// Which kernels the triangle resize (resize.cpp) runs, for the tests that check every path gives
// the same bytes on any machine.

namespace vidprobe::resize_kernels {

enum class Kernels {
  kBest,    // by the CPU: 8 rows at a time with AVX2, else 4 with SSE2
  kSse2,    // 4 rows at a time with SSE2 (what CPUs without AVX2 run)
  kScalar,  // one row at a time, the portable code (what builds without SSE2 run)
};

// Process-wide; kBest restores the choice by CPU.
void force_kernels(Kernels kernels);

}  // namespace vidprobe::resize_kernels
