#pragma once
// The UniPC multistep sampler (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework")
// over a flow-matching schedule, as diffusers' UniPCMultistepScheduler runs it with
// use_flow_sigmas and prediction_type "flow_prediction": the sampler of WAN2.1 text-to-video
// (scheduler config of Wan-AI/Wan2.1-T2V-*-Diffusers: solver_order 2, bh2, predict_x0,
// lower_order_final, final sigma 0, flow_shift 3.0 for 480p and 5.0 for 720p).
//
// The model predicts the velocity v; the sampler works on x0 = x - sigma v and moves x along
// x_sigma = (1 - sigma) x0 + sigma noise in lambda = log((1 - sigma) / sigma). Each step first
// corrects the previous step's result with the new prediction (UniC), then predicts the next
// sample from the last solver_order x0 predictions (UniP). Sigmas and timesteps come from
// unipc_flow_schedule (diffusion_time.h), the same schedule feature extraction reads.
#include <torch/torch.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

namespace vidprobe::backbones {

enum class UniPcVariant {
  kBh1,  // B(h) = h
  kBh2,  // B(h) = e^h - 1 (WAN's)
};

enum class FinalSigma {
  kZero,      // the last step lands on the clean sample (WAN's)
  kSigmaMin,  // the last step stops at the schedule's smallest sigma
};

struct FlowUniPcOptions {
  double flow_shift = 3.0;  // sigma' = shift s / (1 + (shift - 1) s)
  int num_train_timesteps = 1000;
  int solver_order = 2;  // 1..3 previous x0 predictions used by a step
  UniPcVariant variant = UniPcVariant::kBh2;
  bool lower_order_final = true;  // order <= steps left, so the last step is first order
  FinalSigma final_sigma = FinalSigma::kZero;
  std::vector<int> disable_corrector;  // step indices whose result is not corrected

  // Throws vidprobe::Error naming the bad value.
  void validate() const;
};

// One sampling run over `steps` steps; step() is called once per timestep, in order.
class FlowUniPcSampler {
 public:
  FlowUniPcSampler(FlowUniPcOptions options, int steps);

  int steps() const { return static_cast<int>(timesteps_.size()); }
  // steps + 1 noise levels (float32 values), the last the final sigma.
  const std::vector<double>& sigmas() const { return sigmas_; }
  // The integer timesteps the model is given, one per step: floor(sigma * num_train_timesteps).
  const std::vector<std::int64_t>& timesteps() const { return timesteps_; }
  int step_index() const { return step_index_; }
  bool done() const { return step_index_ == steps(); }

  // The sample at the next sigma, from the model's velocity prediction at the current timestep
  // for the current sample (float32 result).
  torch::Tensor step(const torch::Tensor& velocity, const torch::Tensor& sample);

 private:
  double lambda(int index) const;
  // The x0 history's differences over lambda, (m_k - m0) / r_k, and their ratios r_k, for the
  // k = 1..order-1 predictions before the newest; `newest` is the sigma index of m0.
  struct Differences {
    std::vector<double> ratios;
    std::vector<torch::Tensor> slopes;
  };
  Differences differences(int order, int newest, double h) const;
  torch::Tensor predict(const torch::Tensor& sample, int order) const;
  torch::Tensor correct(const torch::Tensor& x0) const;

  FlowUniPcOptions options_;
  std::vector<double> sigmas_;
  std::vector<std::int64_t> timesteps_;
  int step_index_ = 0;
  std::deque<torch::Tensor> x0_history_;  // newest last, at most solver_order entries
  torch::Tensor last_sample_;             // the sample the previous prediction started from
  int last_order_ = 0;                    // the order of the previous prediction
};

// Which text context a velocity call is for.
enum class Guidance { kConditional, kUnconditional };

// latents (B, C, ...), timesteps (B,) int64 -> the velocity prediction (float32, latents' shape).
using VelocityModel = std::function<torch::Tensor(const torch::Tensor& latents,
                                                  const torch::Tensor& timesteps, Guidance)>;

struct SamplingOptions {
  int steps = 50;
  // Classifier-free guidance: v = v_uncond + scale (v_cond - v_uncond) when scale > 1; at or
  // below 1 only the conditional pass runs and its prediction is used as is (as WanPipeline).
  double guidance_scale = 5.0;
  FlowUniPcOptions sampler;
  // Called after every step with its index and the new latents (e.g. progress or a test).
  std::function<void(int step, const torch::Tensor& latents)> on_step;
};

// The full sampling loop of diffusers' WanPipeline from given initial latents (the noise at
// sigma ~ 1): per timestep the model's (guided) velocity, then one sampler step. Returns the
// final latents (float32), still normalised as the transformer sees them.
torch::Tensor sample_latents(const VelocityModel& model, const torch::Tensor& latents,
                             const SamplingOptions& options);

}  // namespace vidprobe::backbones
