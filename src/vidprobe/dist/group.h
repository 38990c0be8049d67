#pragma once
// The process group of a multi-process job on torch's own distributed runtime (c10d): Gloo for
// CPU tensors, NCCL for CUDA ones, rendezvous through the TCP store that rank 0 serves at
// MASTER_ADDR:MASTER_PORT (as torch.distributed.init_process_group("env://")).
//
// A default-constructed Group is a world of one process: every collective returns its input and
// no c10d object exists, so single-process runs are exactly as before. Copies share the group.
// Collectives must be called by every rank in the same order (c10d matches them by order).
#include <torch/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "vidprobe/dist/launch.h"

namespace vidprobe::dist {

class Group {
 public:
  Group() = default;  // one process

  // Joins the job `launch` describes (nothing to join when !launch.distributed()). Collective
  // tensors live on `device`: NCCL for a CUDA device (the build must have NCCL), Gloo otherwise.
  // Throws vidprobe::Error naming MASTER_ADDR:MASTER_PORT when the rendezvous fails or times out.
  static Group join(const Launch& launch, const torch::Device& device,
                    std::chrono::milliseconds timeout = std::chrono::minutes(30));

  int rank() const { return rank_; }
  int size() const { return size_; }
  // The job's processes on this machine (LOCAL_WORLD_SIZE), which share its cores.
  int processes_on_node() const { return processes_on_node_; }
  bool is_main() const { return rank_ == 0; }
  // In a job (collectives go through c10d, a torchrun job of one process included).
  bool distributed() const { return impl_ != nullptr; }
  // The device collective tensors must be on ("cpu" for Gloo).
  torch::Device device() const { return device_; }
  // "gloo", "nccl" or "single".
  std::string backend_name() const;

  void barrier() const;
  // In place: the element-wise sum over ranks.
  void all_reduce_sum(torch::Tensor& tensor) const;
  // Every rank's tensor (same shape and dtype on every rank), in rank order.
  std::vector<torch::Tensor> all_gather(const torch::Tensor& tensor) const;
  // Every rank's bytes (any length), in rank order.
  std::vector<std::string> all_gather_bytes(const std::string& bytes) const;
  // In place: root's tensor on every rank.
  void broadcast(torch::Tensor& tensor, int root = 0) const;

  // An all-reduce (sum) started now; wait() blocks until `tensors` hold the sums. For the
  // gradient buckets of data-parallel training, which overlap the backward pass.
  class Pending {
   public:
    Pending() = default;
    void wait();

   private:
    friend class Group;
    std::shared_ptr<void> work_;
  };
  Pending all_reduce_sum_async(torch::Tensor& tensor) const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  int rank_ = 0, size_ = 1, processes_on_node_ = 1;
  torch::Device device_ = torch::kCPU;
};

// Runs `body` on rank 0 first, then the others (after a barrier), so that one process creates
// shared state (an output directory, a manifest) before the others use it. Exceptions propagate.
template <typename Body>
void main_rank_first(const Group& group, Body&& body) {
  if (group.is_main()) body();
  group.barrier();
  if (!group.is_main()) body();
}

}  // namespace vidprobe::dist
