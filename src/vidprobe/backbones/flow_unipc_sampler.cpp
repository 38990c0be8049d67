#include "vidprobe/backbones/flow_unipc_sampler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "vidprobe/backbones/diffusion_time.h"
#include "vidprobe/core/error.h"

namespace vidprobe::backbones {
namespace {

// The B(h)-scaled phi-function terms b_p (p = 1..order) and B(h) itself for a step of size h in
// lambda. The solver works in x0 form, so its exponent is -h.
struct PhiTerms {
  double h_phi_1 = 0;  // e^{-h} - 1
  double b_h = 0;
  std::vector<double> b;
};

PhiTerms phi_terms(double h, int order, UniPcVariant variant) {
  const double hh = -h;
  PhiTerms terms;
  terms.h_phi_1 = std::expm1(hh);
  terms.b_h = variant == UniPcVariant::kBh1 ? hh : std::expm1(hh);
  double h_phi_k = terms.h_phi_1 / hh - 1;  // phi_2 scaled, then the next phi by recursion
  double factorial = 1;
  for (int p = 1; p <= order; ++p) {
    terms.b.push_back(h_phi_k * factorial / terms.b_h);
    factorial *= p + 1;
    h_phi_k = h_phi_k / hh - 1 / factorial;
  }
  return terms;
}

// Solves sum_q ratios_q^p rho_q = b_p (p = 0..n-1) for rho, the Vandermonde system of UniPC's
// coefficients, where ratios holds n values.
std::vector<double> solve_coefficients(const std::vector<double>& ratios,
                                       const std::vector<double>& b) {
  const auto n = static_cast<int64_t>(ratios.size());
  auto matrix = torch::empty({n, n}, torch::kFloat64);
  auto rhs = torch::empty({n}, torch::kFloat64);
  for (int64_t p = 0; p < n; ++p) {
    rhs[p] = b[static_cast<std::size_t>(p)];
    for (int64_t q = 0; q < n; ++q)
      matrix[p][q] = std::pow(ratios[static_cast<std::size_t>(q)], static_cast<double>(p));
  }
  const auto solution = torch::linalg_solve(matrix, rhs);
  return {solution.data_ptr<double>(), solution.data_ptr<double>() + n};
}

torch::Tensor weighted_sum(const std::vector<double>& weights,
                           const std::vector<torch::Tensor>& tensors) {
  auto sum = weights[0] * tensors[0];
  for (std::size_t k = 1; k < tensors.size(); ++k) sum = sum + weights[k] * tensors[k];
  return sum;
}

}  // namespace

void FlowUniPcOptions::validate() const {
  require(flow_shift > 0,
          "UniPC sampler: flow_shift must be positive, got " + std::to_string(flow_shift));
  require(num_train_timesteps >= 1, "UniPC sampler: num_train_timesteps must be at least 1, got " +
                                        std::to_string(num_train_timesteps));
  require(solver_order >= 1 && solver_order <= 3,
          "UniPC sampler: solver_order must be 1, 2 or 3, got " + std::to_string(solver_order));
  // Without lower_order_final a higher-order last step divides by the infinite lambda of sigma 0
  // (diffusers then returns NaN); refuse rather than reproduce that.
  require(lower_order_final || solver_order == 1 || final_sigma != FinalSigma::kZero,
          "UniPC sampler: a final sigma of 0 needs lower_order_final (or solver_order 1)");
  // bh1's B(h) = -h is infinite on that last step too, and diffusers multiplies it by 0.
  require(variant != UniPcVariant::kBh1 || final_sigma != FinalSigma::kZero,
          "UniPC sampler: bh1 needs final_sigma sigma_min (with a final sigma of 0 its last step "
          "is undefined)");
}

FlowUniPcSampler::FlowUniPcSampler(FlowUniPcOptions options, int steps)
    : options_(std::move(options)) {
  options_.validate();
  require(steps >= 1, "UniPC sampler: steps must be at least 1, got " + std::to_string(steps));
  auto schedule = unipc_flow_schedule(options_.flow_shift, steps, UniPcFormula::kCurrent,
                                      options_.num_train_timesteps);
  sigmas_ = std::move(schedule.sigmas);
  timesteps_ = std::move(schedule.timesteps);
  sigmas_.push_back(options_.final_sigma == FinalSigma::kZero ? 0.0 : sigmas_.back());
}

double FlowUniPcSampler::lambda(int index) const {
  const double sigma = sigmas_[static_cast<std::size_t>(index)];
  return std::log(1 - sigma) - std::log(sigma);  // +inf at sigma 0
}

FlowUniPcSampler::Differences FlowUniPcSampler::differences(int order, int newest, double h) const {
  Differences out;
  const auto& m0 = x0_history_.back();
  for (int k = 1; k < order; ++k) {
    const double ratio = (lambda(newest - k) - lambda(newest)) / h;
    const auto& mk = x0_history_[x0_history_.size() - 1 - static_cast<std::size_t>(k)];
    out.ratios.push_back(ratio);
    out.slopes.push_back((mk - m0) / ratio);
  }
  return out;
}

// UniP: from sigma_i to sigma_{i+1} with the newest x0 (last in the history) and order - 1
// earlier ones.
torch::Tensor FlowUniPcSampler::predict(const torch::Tensor& sample, int order) const {
  const int i = step_index_;
  const double sigma_s = sigmas_[static_cast<std::size_t>(i)];
  const double sigma_t = sigmas_[static_cast<std::size_t>(i) + 1];
  const double alpha_t = 1 - sigma_t;
  const double h = lambda(i + 1) - lambda(i);
  const auto terms = phi_terms(h, order, options_.variant);
  auto next = (sigma_t / sigma_s) * sample - (alpha_t * terms.h_phi_1) * x0_history_.back();
  if (order == 1) return next;
  const auto diffs = differences(order, i, h);
  // Second order uses the fixed weight 1/2 (UniPC's choice for p = 2); higher orders solve the
  // system without its last row and column.
  const auto rhos = order == 2
                        ? std::vector<double>{0.5}
                        : solve_coefficients(diffs.ratios, {terms.b.begin(), terms.b.end() - 1});
  return next - (alpha_t * terms.b_h) * weighted_sum(rhos, diffs.slopes);
}

// UniC: redoes the previous step (from last_sample_ at sigma_{i-1} to sigma_i) with the new x0
// prediction at sigma_i as an extra point, at the previous step's order.
torch::Tensor FlowUniPcSampler::correct(const torch::Tensor& x0) const {
  const int i = step_index_, order = last_order_;
  const double sigma_s = sigmas_[static_cast<std::size_t>(i) - 1];
  const double sigma_t = sigmas_[static_cast<std::size_t>(i)];
  const double alpha_t = 1 - sigma_t;
  const double h = lambda(i) - lambda(i - 1);
  const auto terms = phi_terms(h, order, options_.variant);
  const auto& m0 = x0_history_.back();
  auto diffs = differences(order, i - 1, h);
  diffs.ratios.push_back(1.0);
  const auto rhos =
      order == 1 ? std::vector<double>{0.5} : solve_coefficients(diffs.ratios, terms.b);
  diffs.slopes.push_back(x0 - m0);
  return (sigma_t / sigma_s) * last_sample_ - (alpha_t * terms.h_phi_1) * m0 -
         (alpha_t * terms.b_h) * weighted_sum(rhos, diffs.slopes);
}

torch::Tensor FlowUniPcSampler::step(const torch::Tensor& velocity, const torch::Tensor& sample) {
  require(!done(), "UniPC sampler: all " + std::to_string(steps()) + " steps already taken");
  require(velocity.sizes() == sample.sizes(),
          "UniPC sampler: the velocity " + c10::str(velocity.sizes()) +
              " must have the sample's shape " + c10::str(sample.sizes()));
  const int i = step_index_;
  auto current = sample.to(torch::kFloat32);
  const auto x0 = current - sigmas_[static_cast<std::size_t>(i)] * velocity.to(torch::kFloat32);
  const auto& disabled = options_.disable_corrector;
  if (i > 0 && last_sample_.defined() &&
      std::find(disabled.begin(), disabled.end(), i - 1) == disabled.end())
    current = correct(x0);

  x0_history_.push_back(x0);
  if (static_cast<int>(x0_history_.size()) > options_.solver_order) x0_history_.pop_front();
  int order = options_.solver_order;
  if (options_.lower_order_final) order = std::min(order, steps() - i);
  order = std::min(order, i + 1);  // warm-up: only i + 1 predictions exist so far

  last_sample_ = current;
  last_order_ = order;
  auto next = predict(current, order);
  ++step_index_;
  return next;
}

torch::Tensor sample_latents(const VelocityModel& model, const torch::Tensor& latents,
                             const SamplingOptions& options) {
  require(static_cast<bool>(model), "sample_latents: no velocity model given");
  FlowUniPcSampler sampler(options.sampler, options.steps);
  const bool guided = options.guidance_scale > 1.0;
  auto x = latents.to(torch::kFloat32);
  for (int i = 0; i < sampler.steps(); ++i) {
    const auto timesteps =
        torch::full({x.size(0)}, sampler.timesteps()[static_cast<std::size_t>(i)],
                    torch::TensorOptions().dtype(torch::kInt64).device(x.device()));
    auto velocity = model(x, timesteps, Guidance::kConditional).to(torch::kFloat32);
    if (guided) {
      const auto uncond = model(x, timesteps, Guidance::kUnconditional).to(torch::kFloat32);
      velocity = uncond + options.guidance_scale * (velocity - uncond);
    }
    x = sampler.step(velocity, x);
    if (options.on_step) options.on_step(i, x);
  }
  return x;
}

}  // namespace vidprobe::backbones
