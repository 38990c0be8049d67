#pragma once
// What `vidprobe check` needs from a latent diffusion backbone, as values a family fills in: its
// input size, its VAE both ways, its noising rule and its network's clean-latent estimate. The
// check itself (features/diffusion_check.h) only calls these, so another family (CogVideoX's
// v-prediction DDPM, Open-Sora's rectified flow) plugs in by writing its own constructor, with no
// test of the family's name anywhere in the check, and lists its names in registry.cpp beside its
// backbones.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "vidprobe/backbones/backbone.h"
#include "vidprobe/backbones/diffusion_time.h"

namespace vidprobe::backbones {

struct DiffusionCheckModel {
  std::string name;
  InputSpec input;             // size and the frame-count rule (frames_multiple, frames_offset)
  DiffusionTime default_time;  // the family's default extraction noise level
  // clip (T, 3, H, W) in [0, 1] -> the latents the network is trained on (1, C, F, h, w).
  std::function<torch::Tensor(const torch::Tensor& clip)> encode;
  // Those latents -> the decoded clip (T', 3, H, W) in [0, 1].
  std::function<torch::Tensor(const torch::Tensor& latents)> decode;
  // The noise level the network sees at `time` (what x_t mixes in), for the clip encoded last
  // (Open-Sora's time shift depends on its latent frames); before any encode, it still refuses a
  // time the family cannot take.
  std::function<double(const DiffusionTime& time)> sigma;
  // Clean latents and unit Gaussian noise -> x_t at `time`.
  std::function<torch::Tensor(const torch::Tensor& x0, const torch::Tensor& noise,
                              const DiffusionTime& time)>
      add_noise;
  // x_t -> the network's estimate of x0 at `time` (conditioned as the family's extraction is).
  std::function<torch::Tensor(const torch::Tensor& noisy, const DiffusionTime& time)> predict_x0;
  // The family's official sampler over `steps` steps from unit noise in the latents' shape, with
  // the extraction's conditioning -> final latents for `decode`. Empty: the family has none yet.
  std::function<torch::Tensor(const torch::Tensor& noise, int steps)> sample;
};

// A registered backbone name `vidprobe check` can run, and how to build its parts.
struct CheckModelEntry {
  std::string name;
  std::function<DiffusionCheckModel(const BackboneOptions&)> make;
};
// Every such backbone, from the families' own size tables (defined in registry.cpp, the one
// registry, next to registered_backbones()).
const std::vector<CheckModelEntry>& registered_check_models();
// nullptr when `backbone` has no diffusion check (not a latent diffusion backbone).
const CheckModelEntry* lookup_check_model(const std::string& backbone);

}  // namespace vidprobe::backbones
