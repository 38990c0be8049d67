#pragma once
// Time and matrix FLOPs of the named stages of an extraction (a diffusion backbone's VAE encoding
// and its transformer passes), for the benchmarks' MFU. A StageMeter installed on a thread turns
// every ScopedStage on that thread into a measurement: the device is synchronised at the stage's
// entry and exit, and the FLOPs counted by the layers (count_linear_flops, attention) while it is
// open are added to it. Without a meter a ScopedStage does nothing and the layers count nothing
// (one thread-local load per layer call), so extraction runs unsynchronised as usual.
//
// FLOPs are 2 per multiply-add of the matrix products: every nn::Linear (and WAN's parameter-map
// linear), and attention's two products (QK^T and the weighted values). Convolutions, norms and
// element-wise work are not counted: a VAE stage's FLOPs are therefore not its work, and only the
// transformer stage's MFU is reported.
#include <ATen/record_function.h>
#include <torch/torch.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace vidprobe::nn {

// The stage whose FLOPs make a backbone's MFU: the blocks the features come from (a ViT's
// blocks, a DiT's or MMDiT's passes, VGGT's aggregator, Fast3R's encoder and decoder).
inline constexpr const char* kTransformerStage = "transformer";
// A VAE's encoding of the clip into latents (timed; its convolutions are not counted).
inline constexpr const char* kVaeStage = "vae";
// A measured stage is also a user scope on the profiler's timeline, named this prefix + the
// stage's name: nn::profile_kernels attributes the kernels that ran inside it to the stage.
inline constexpr const char* kStageScopePrefix = "vidprobe.stage/";

// Dense bf16 tensor-core peak of the H100 and H200 SXM: the MFU denominator of every benchmark,
// whatever the dtype run.
inline constexpr double kHopperDenseBf16Flops = 989e12;

struct StageTotals {
  double seconds = 0.0;
  double flops = 0.0;
  int64_t entries = 0;
};

class StageMeter {
 public:
  // Installs itself on the calling thread (one meter per thread at a time).
  explicit StageMeter(torch::Device device);
  ~StageMeter();
  StageMeter(const StageMeter&) = delete;
  StageMeter& operator=(const StageMeter&) = delete;

  const std::map<std::string, StageTotals>& totals() const { return totals_; }
  // The totals of `name`; zeros when the stage never ran.
  StageTotals stage(const std::string& name) const;

 private:
  friend class ScopedStage;
  friend void count_flops(double flops);
  friend bool counting_flops();
  void synchronize() const;

  torch::Device device_;
  std::map<std::string, StageTotals> totals_;
  StageTotals* open_ = nullptr;  // the outermost open stage
  StageMeter* previous_ = nullptr;
};

// A stage of the work on this thread. Nested stages belong to the outermost one (VGGT's DINO patch
// embedding inside its aggregator): an inner ScopedStage measures nothing of its own.
class ScopedStage {
 public:
  explicit ScopedStage(const std::string& name);
  ~ScopedStage();
  ScopedStage(const ScopedStage&) = delete;
  ScopedStage& operator=(const ScopedStage&) = delete;

 private:
  StageTotals* totals_ = nullptr;  // null: no meter, or nested
  std::chrono::steady_clock::time_point start_;
  std::optional<at::RecordFunction> scope_;  // opened after the entry's synchronisation
};

// Adds to the open stage of this thread's meter; nothing without one.
void count_flops(double flops);
bool counting_flops();
// x (..., in) through a (out, in) weight: 2 * rows * in * out.
void count_linear_flops(const torch::Tensor& x, int64_t out_features);

// The one scaled-dot-product attention entry of the layer library: at::scaled_dot_product_attention
// (q, k, v as (B, heads, L, head_dim)) with its two products counted.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        bool causal = false, std::optional<double> scale = std::nullopt);

}  // namespace vidprobe::nn
