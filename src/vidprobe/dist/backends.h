#pragma once
// The c10d backends behind dist::Group, each in its own file because each needs its library's
// headers (and its USE_C10D_* switch) and nothing else should see them.
#include <chrono>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace vidprobe::dist::detail {

c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size,
                                                    std::chrono::milliseconds timeout);

// Throws vidprobe::Error when this build has no NCCL (nccl.h was not found at configure time).
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size, int device_index,
                                                    std::chrono::milliseconds timeout);

}  // namespace vidprobe::dist::detail
