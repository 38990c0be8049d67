#include "vidprobe/dist/group.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "vidprobe/core/error.h"
#include "vidprobe/dist/backends.h"

namespace vidprobe::dist {

struct Group::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::string name;
};

namespace {

c10::intrusive_ptr<c10d::Store> connect_store(const Launch& launch,
                                              std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(launch.master_port);
  // torchrun's agent already serves the store at MASTER_ADDR:MASTER_PORT: every rank is a
  // client then (as torch.distributed's env:// rendezvous does), and the keys get a prefix of
  // their own next to the agent's.
  options.isServer = launch.rank == 0 && !launch.agent_store;
  options.numWorkers = launch.world_size;
  options.waitWorkers = !launch.agent_store;
  options.timeout = timeout;
  try {
    return c10::make_intrusive<c10d::PrefixStore>(
        "vidprobe", c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options));
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(launch.rank) + " of " + std::to_string(launch.world_size) +
                " could not join the job's store at " + launch.master_addr + ":" +
                std::to_string(launch.master_port) + " (" + launch.launcher + "): " + e.what());
  }
}

void wait_for(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    // A peer that died (killed, out of memory, a failed check) ends every collective it was in.
    throw Error("distributed " + what + " failed (another rank stopped?): " + e.what());
  }
}

}  // namespace

Group Group::join(const Launch& launch, const torch::Device& device,
                  std::chrono::milliseconds timeout) {
  Group group;
  group.rank_ = launch.rank;
  group.size_ = launch.world_size;
  group.processes_on_node_ = launch.local_world_size;
  if (!launch.distributed()) return group;
  auto impl = std::make_shared<Impl>();
  impl->store = connect_store(launch, timeout);
  try {
    if (device.is_cuda()) {
      const int index = device.has_index() ? device.index() : launch.local_rank;
      impl->backend =
          detail::make_nccl_backend(impl->store, launch.rank, launch.world_size, index, timeout);
      impl->name = "nccl";
      group.device_ = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    } else {
      impl->backend =
          detail::make_gloo_backend(impl->store, launch.rank, launch.world_size, timeout);
      impl->name = "gloo";
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(launch.rank) + " could not create the " +
                std::string(device.is_cuda() ? "NCCL" : "Gloo") + " process group: " + e.what());
  }
  group.impl_ = std::move(impl);
  return group;
}

std::string Group::backend_name() const {
  return impl_ ? impl_->name : "single";
}

void Group::barrier() const {
  if (!impl_) return;
  c10d::BarrierOptions options;
  if (device_.is_cuda()) options.device_ids = {static_cast<int64_t>(device_.index())};
  wait_for(impl_->backend->barrier(options), "barrier");
}

void Group::all_reduce_sum(torch::Tensor& tensor) const {
  if (!impl_) return;
  auto pending = all_reduce_sum_async(tensor);
  pending.wait();
}

Group::Pending Group::all_reduce_sum_async(torch::Tensor& tensor) const {
  Pending pending;
  if (!impl_) return pending;
  require(tensor.device() == device_ && tensor.is_contiguous(),
          "dist: all-reduce needs a contiguous tensor on " + device_.str());
  std::vector<at::Tensor> tensors{tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  pending.work_ =
      std::make_shared<c10::intrusive_ptr<c10d::Work>>(impl_->backend->allreduce(tensors, options));
  return pending;
}

void Group::Pending::wait() {
  if (!work_) return;
  wait_for(*std::static_pointer_cast<c10::intrusive_ptr<c10d::Work>>(work_), "all-reduce");
  work_.reset();
}

std::vector<torch::Tensor> Group::all_gather(const torch::Tensor& tensor) const {
  if (!impl_) return {tensor};
  std::vector<at::Tensor> input{tensor.to(device_).contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int r = 0; r < size_; ++r) output[0].push_back(torch::empty_like(input[0]));
  wait_for(impl_->backend->allgather(output, input), "all-gather");
  std::vector<torch::Tensor> result;
  for (auto& t : output[0]) result.push_back(t.to(tensor.device()));
  return result;
}

std::vector<std::string> Group::all_gather_bytes(const std::string& bytes) const {
  if (!impl_) return {bytes};
  const auto lengths = all_gather(torch::tensor({static_cast<int64_t>(bytes.size())}));
  int64_t longest = 0;
  for (const auto& length : lengths) longest = std::max(longest, length.item<int64_t>());
  auto padded = torch::zeros({longest}, torch::kUInt8);
  std::memcpy(padded.data_ptr(), bytes.data(), bytes.size());
  const auto gathered = all_gather(padded);
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) {
    const auto t = gathered[static_cast<std::size_t>(r)].cpu().contiguous();
    out.emplace_back(
        static_cast<const char*>(t.data_ptr()),
        static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)].item<int64_t>()));
  }
  return out;
}

void Group::broadcast(torch::Tensor& tensor, int root) const {
  if (!impl_) return;
  std::vector<at::Tensor> tensors{tensor.to(device_).contiguous()};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  wait_for(impl_->backend->broadcast(tensors, options), "broadcast");
  tensor.copy_(tensors[0]);
}

}  // namespace vidprobe::dist
