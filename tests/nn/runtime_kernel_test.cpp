#include "vidprobe/nn/runtime_kernel.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "vidprobe/nn/bilinear_resize.h"
#include "vidprobe/nn/fused_conv_bias.h"
#include "vidprobe/nn/residual_norm.h"
#include "vidprobe/nn/rms_norm_rotary.h"
#include "vidprobe/nn/rotary.h"

namespace vidprobe::nn {
namespace {

// Every program's kernels compile without a GPU: NVRTC only needs the target's compute capability.
TEST(RuntimeKernel, EveryProgramCompilesForHopperAndAmpere) {
  if (!runtime_kernels_built()) GTEST_SKIP() << "this build has no NVRTC";
  const std::vector<std::pair<std::string, const std::string*>> programs = {
      {"bilinear_resize", &bilinear_resize_kernel_source()},
      {"rotary", &rotary_kernel_source()},
      {"conv_bias", &conv_bias_kernel_source()},
      {"residual_norm", &residual_norm_kernel_source()},
      {"rms_norm_rotary", &rms_norm_rotary_kernel_source()}};
  for (const auto& [program, source] : programs) {
    for (const int arch : {80, 90}) {
      SCOPED_TRACE(program + " sm_" + std::to_string(arch));
      const auto cubin = compile_cubin(*source, program, arch);
      ASSERT_GT(cubin.size(), 4u);
      EXPECT_EQ(cubin.substr(0, 4), std::string("\x7f"
                                                "ELF"));
    }
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
