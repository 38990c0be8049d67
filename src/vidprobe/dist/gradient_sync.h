#pragma once
// Data-parallel gradients as PyTorch's DistributedDataParallel makes them: parameters are packed,
// last layer first, into buckets of about 25 MB; a bucket's all-reduce starts as soon as the
// backward pass has produced all its gradients, so communication overlaps the rest of the
// backward pass; buckets start in the same order on every rank (c10d matches collectives by
// order). After finish(), every parameter's .grad is the mean over ranks.
//
// Gradient accumulation: only the last backward pass of a step is armed; the earlier ones just
// accumulate into .grad, and the armed pass reduces the accumulated sum (DDP's no_sync()).
#include <torch/torch.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "vidprobe/dist/group.h"

namespace vidprobe::dist {

// Copies rank 0's values into every rank's parameters and buffers (as DDP does when it wraps a
// module), so that all ranks start from the same model.
void broadcast_module(const Group& group, torch::nn::Module& module);

class GradientSync {
 public:
  static constexpr std::size_t kDefaultBucketBytes = std::size_t{25} << 20;

  // Registers a gradient hook on every parameter that requires a gradient. `group` must outlive
  // this object; so must the parameters. With one process, nothing is registered.
  GradientSync(Group group, const std::vector<torch::Tensor>& parameters,
               std::size_t bucket_bytes = kDefaultBucketBytes);
  ~GradientSync();  // removes the hooks
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // The next backward pass is the last of the step: its gradients are reduced as they come.
  void arm();
  // After the armed backward pass: starts the buckets not started yet (parameters without a
  // gradient count as zeros), waits for all of them and writes the means into .grad.
  void finish();

  std::size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Slot {
    torch::Tensor parameter;
    std::size_t bucket = 0;
    int64_t offset = 0;  // in the bucket's flat buffer
    bool ready = false;
    unsigned hook = 0;
  };
  struct Bucket {
    torch::Tensor buffer;  // flat, the parameters' dtype and device
    std::size_t pending = 0;
    bool started = false;
    Group::Pending reduction;
  };

  void on_gradient(std::size_t slot, const torch::Tensor& gradient);
  void start_ready_buckets();
  void build_buckets(const std::vector<torch::Tensor>& parameters, std::size_t bucket_bytes);

  Group group_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::size_t next_bucket_ = 0;  // buckets start in index order
  bool armed_ = false;
  std::mutex mutex_;  // hooks may run on the autograd engine's device threads
};

}  // namespace vidprobe::dist
