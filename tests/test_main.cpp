#include <gtest/gtest.h>
#include <torch/torch.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Tests are small; one intra-op thread keeps ctest -j2 from oversubscribing the 2-core machine
  // and makes reductions bit-reproducible.
  torch::set_num_threads(1);
  return RUN_ALL_TESTS();
}
