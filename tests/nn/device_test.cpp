#include "vidprobe/nn/device.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <new>
#include <stdexcept>

#include "vidprobe/core/error.h"

namespace vidprobe::nn {
namespace {

TEST(IsOutOfMemory, RecognisesAFailedHostAllocationAndAFullGpuOnly) {
  // 128 TiB: more than any machine can map, so libtorch's CPU allocator fails for real and the
  // test follows its message if a libtorch release changes it.
  try {
    const auto huge = torch::empty({int64_t{1} << 47}, torch::kUInt8);
    FAIL() << "a 128 TiB tensor was allocated: " << huge.numel();
  } catch (const std::exception& e) {
    EXPECT_TRUE(is_out_of_memory(e)) << e.what();
  }
  EXPECT_TRUE(is_out_of_memory(c10::OutOfMemoryError({"f", "file", 1}, "CUDA out of memory.")));
  EXPECT_TRUE(is_out_of_memory(std::bad_alloc()));
  // Other libtorch errors (a damaged optimizer.pt, a shape mismatch) and the program's own are not.
  EXPECT_FALSE(is_out_of_memory(c10::Error({"f", "file", 1}, "shape mismatch")));
  EXPECT_FALSE(is_out_of_memory(Error("key 'step' is negative")));
  EXPECT_FALSE(is_out_of_memory(std::runtime_error("DefaultCPUAllocator: can't allocate")));
}

TEST(ParseDtype, NamesTheOptionAndRoundTrips) {
  for (const std::string name : {"fp32", "bf16", "fp16"})
    EXPECT_EQ(dtype_name(parse_dtype(name, "--dtype")), name);
  EXPECT_THROW(
      {
        try {
          parse_dtype("float8", "--dtype");
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("--dtype"), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find("float8"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
}

// The copy is the host's values at the call, whatever the caller writes into `host` after it.
void expect_async_copy_keeps_the_values_at_the_call(torch::Device device) {
  auto host = torch::arange(6, torch::kFloat32);
  const auto placed = to_device_async(host, device);
  host.fill_(-1);
  EXPECT_EQ(placed.device(), device);
  EXPECT_TRUE(torch::equal(placed.cpu(), torch::arange(6, torch::kFloat32)));
}

TEST(ToDeviceAsync, KeepsTheValuesAtTheCallOnTheCpu) {
  expect_async_copy_keeps_the_values_at_the_call(torch::kCPU);
}

TEST(ToDeviceAsyncCuda, KeepsTheValuesAtTheCallThroughPinnedMemory) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  expect_async_copy_keeps_the_values_at_the_call(torch::Device(torch::kCUDA, 0));
}

}  // namespace
}  // namespace vidprobe::nn
