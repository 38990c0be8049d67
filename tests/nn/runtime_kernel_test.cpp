#include "vidprobe/nn/runtime_kernel.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "vidprobe/nn/bilinear_resize.h"
#include "vidprobe/nn/fused_conv_bias.h"
#include "vidprobe/nn/head_norm.h"
#include "vidprobe/nn/residual_norm.h"
#include "vidprobe/nn/rms_norm_rotary.h"
#include "vidprobe/nn/rotary.h"

namespace vidprobe::nn {
namespace {

struct Program {
  std::string name;
  const std::string* source;
  bool row_kernels;  // nn/runtime_kernel.h's row layout: the row held in registers
};

std::vector<Program> every_program() {
  return {{"bilinear_resize", &bilinear_resize_kernel_source(), false},
          {"rotary", &rotary_kernel_source(), false},
          {"conv_bias", &conv_bias_kernel_source(), false},
          {"head_norm", &head_norm_kernel_source(), false},
          {"residual_norm", &residual_norm_kernel_source(), true},
          {"rms_norm_rotary", &rms_norm_rotary_kernel_source(), true}};
}

// Calls check(program, arch) for every program on Ampere (80) and Hopper (90), traced by both.
template <typename Check>
void for_every_program_and_target(const Check& check) {
  for (const auto& program : every_program()) {
    for (const int arch : {80, 90}) {
      SCOPED_TRACE(program.name + " sm_" + std::to_string(arch));
      check(program, arch);
    }
  }
}

// Every program's kernels compile without a GPU: NVRTC only needs the target's compute capability.
TEST(RuntimeKernel, EveryProgramCompilesForHopperAndAmpere) {
  if (!runtime_kernels_built()) GTEST_SKIP() << "this build has no NVRTC";
  for_every_program_and_target([](const Program& program, int arch) {
    const auto cubin = compile_cubin(*program.source, program.name, arch);
    ASSERT_GT(cubin.size(), 4u);
    EXPECT_EQ(cubin.substr(0, 4), std::string("\x7f"
                                              "ELF"));
  });
}

// No kernel spills, and the row kernels keep nothing in local memory: their rows (up to kRowItems
// packs a thread, indexed by unrolled loops) stay in registers under their launch bounds. A row
// moved to a stack frame would be read through the cache on every pass. The resize's backward
// keeps its taps in a stack frame by design: their count is known only at run time.
TEST(RuntimeKernel, NoKernelSpillsAndTheRowKernelsKeepTheirRowsInRegisters) {
  if (!runtime_kernels_built()) GTEST_SKIP() << "this build has no NVRTC";
  for_every_program_and_target([](const Program& program, int arch) {
    const auto footprints = kernel_footprints(*program.source, program.name, arch);
    EXPECT_FALSE(footprints.empty());
    for (const auto& kernel : footprints) {
      SCOPED_TRACE(kernel.kernel + ": " + std::to_string(kernel.registers) + " registers");
      EXPECT_GT(kernel.registers, 0);
      if (program.row_kernels) EXPECT_EQ(kernel.stack_frame_bytes, 0);
      EXPECT_EQ(kernel.spill_store_bytes, 0);
      EXPECT_EQ(kernel.spill_load_bytes, 0);
    }
  });
}

// The check above can fail: an array indexed by a value known only at run time has no register
// form, and the report shows its stack frame.
TEST(RuntimeKernel, AnArrayIndexedAtRunTimeShowsAsAStackFrame) {
  if (!runtime_kernels_built()) GTEST_SKIP() << "this build has no NVRTC";
  const std::string source = R"CUDA(
extern "C" __global__ void indexed(float* out, const float* in, int n) {
  float v[32];
#pragma unroll
  for (int i = 0; i < 32; ++i) v[i] = in[threadIdx.x + i * n] * in[i];
  float sum = 0.0f;
  for (int i = 0; i < 32; ++i) sum += v[(i * 7 + n) % 32];
  out[threadIdx.x] = sum;
}
extern "C" __global__ void unrolled(float* out, const float* in, int n) {
  float v[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) v[i] = in[threadIdx.x + i * n];
  out[threadIdx.x] = v[0] + v[1] + v[2] + v[3];
}
)CUDA";
  const auto footprints = kernel_footprints(source, "footprint_probe", 90);
  ASSERT_EQ(footprints.size(), 2u);
  const auto& indexed = footprints[0].kernel == "indexed" ? footprints[0] : footprints[1];
  const auto& unrolled = footprints[0].kernel == "indexed" ? footprints[1] : footprints[0];
  EXPECT_EQ(indexed.kernel, "indexed");
  EXPECT_EQ(unrolled.kernel, "unrolled");
  EXPECT_GE(indexed.stack_frame_bytes, 32 * 4);
  EXPECT_EQ(unrolled.stack_frame_bytes, 0);
}

TEST(RuntimeKernel, ThePtxasReportIsReadKernelByKernel) {
  const std::string log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Compiling entry function 'first' for 'sm_90'\n"
      "ptxas info    : Function properties for first\n"
      "ptxas         .     256 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\n"
      "ptxas info    : Used 47 registers, used 0 barriers, 256 bytes cumulative stack size\n"
      "ptxas info    : Function properties for __internal_accurate_pow\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Compile time = 47.345 ms\n"
      "ptxas info    : Compiling entry function 'second' for 'sm_90'\n"
      "ptxas info    : Function properties for second\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 30 registers, used 1 barriers\n"
      "ptxas info    : Function properties for helper\n"
      "ptxas         .     64 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n";
  const auto footprints = parse_ptxas_report(log);
  ASSERT_EQ(footprints.size(), 2u);
  EXPECT_EQ(footprints[0].kernel, "first");
  EXPECT_EQ(footprints[0].registers, 47);
  EXPECT_EQ(footprints[0].stack_frame_bytes, 256);
  EXPECT_EQ(footprints[0].spill_store_bytes, 8);
  EXPECT_EQ(footprints[0].spill_load_bytes, 12);
  EXPECT_EQ(footprints[1].kernel, "second");
  EXPECT_EQ(footprints[1].registers, 30);
  EXPECT_EQ(footprints[1].stack_frame_bytes, 0);  // its callee's frame is the callee's
  EXPECT_EQ(footprints[1].spill_store_bytes, 0);
  const std::string truncated = "ptxas info    : Compiling entry function 'cut' for 'sm_90'\n";
  try {
    parse_ptxas_report(truncated);
    FAIL() << "a kernel without its properties was read";
  } catch (const std::exception& error) {
    EXPECT_NE(std::string(error.what()).find("'cut'"), std::string::npos) << error.what();
  }
}

TEST(RuntimeKernel, ASourceThatDoesNotCompileIsNamedWithTheCompilerLog) {
  if (!runtime_kernels_built()) GTEST_SKIP() << "this build has no NVRTC";
  try {
    compile_cubin("extern \"C\" __global__ void k() { undeclared_name = 1; }", "broken_program",
                  90);
    FAIL() << "a source that cannot compile gave a CUBIN";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("broken_program"), std::string::npos) << message;
    EXPECT_NE(message.find("sm_90"), std::string::npos) << message;
    EXPECT_NE(message.find("undeclared_name"), std::string::npos) << message;
  }
}

// As few warps as hold the row at kRowItems packs a thread: WAN2.1-14B's 5,120 channels in 160
// threads, a ViT-L row in one warp; widths the layout cannot hold are refused by name.
TEST(RuntimeKernel, RowBlocksHoldTheRowInTheFewestWarps) {
  EXPECT_EQ(row_block_threads(5120), 160u);
  EXPECT_EQ(row_block_threads(1536), 64u);
  EXPECT_EQ(row_block_threads(1024), 32u);
  EXPECT_EQ(row_block_threads(4), 32u);
  EXPECT_EQ(row_block_threads(kRowMaxWidth), static_cast<unsigned>(kRowThreads));
  EXPECT_THROW(row_block_threads(kRowMaxWidth + kRowPack), std::exception);
  EXPECT_THROW(row_block_threads(6), std::exception);
}

}  // namespace
}  // namespace vidprobe::nn
