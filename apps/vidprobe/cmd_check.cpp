// `vidprobe check`: before a long extraction, whether a diffusion checkpoint, its latent scaling
// and its conditioning are right (features/diffusion_check.h): the VAE's reconstruction PSNR on one
// clip and the network's x0 estimate at the chosen noise level, as one JSON line on stdout and,
// with --out, check.json and the frames to look at.
#include <iostream>
#include <set>

#include "commands.h"
#include "typed_options.h"
#include "vidprobe/backbones/diffusion_check.h"
#include "vidprobe/backbones/registry.h"
#include "vidprobe/core/error.h"
#include "vidprobe/data/dataset.h"
#include "vidprobe/features/clip_tensors.h"
#include "vidprobe/features/diffusion_check.h"
#include "vidprobe/features/extraction_preset.h"
#include "vidprobe/nn/device.h"
#include "vidprobe/render/clip.h"

namespace vidprobe::cli {
namespace {

struct CheckFlags {
  features::ExtractOptions extraction;  // backbone, weights, point, frames, resize, preset values
  std::vector<std::string> backbone_opts;
  std::string preset = "none";
  std::string timestep;
  std::string clip_id;
  std::filesystem::path out;
  int render_seed = 0;
  int sample_steps = 0;
};

// The clip as the backbone's input: a dataset's sequence (its first --frames frames), or a
// rendered synthetic clip at the input size.
std::pair<torch::Tensor, std::string> load_check_clip(const CheckFlags& flags,
                                                      const backbones::InputSpec& input) {
  const auto& x = flags.extraction;
  Clip clip;
  if (x.dataset_root.empty()) {
    render::RenderSettings settings;
    settings.generation.frames = x.frames;
    settings.generation.width = input.width;
    settings.generation.height = input.height;
    settings.generation.seed = static_cast<std::uint64_t>(flags.render_seed);
    clip = render::render_clip(settings, render::load_render_assets(settings), 0);
  } else {
    const auto dataset = open_dataset(x.dataset_kind, x.dataset_root, DatasetOptions{});
    require(!dataset->sequences().empty(),
            "dataset '" + x.dataset_root.string() + "' (" + x.dataset_kind + ") has no sequences");
    const auto sequence = flags.clip_id.empty() ? dataset->sequences().front() : flags.clip_id;
    const int available = dataset->num_frames(sequence);
    require(available >= x.frames, "clip '" + sequence + "' has " + std::to_string(available) +
                                       " frames; --frames asks for " + std::to_string(x.frames));
    std::vector<int> indices(static_cast<std::size_t>(x.frames));
    for (int i = 0; i < x.frames; ++i) indices[static_cast<std::size_t>(i)] = i;
    clip = dataset->load_clip(sequence, indices);
    clip.id = sequence;
  }
  const auto tensors = features::clip_to_tensors(clip, input.width, input.height, input.width,
                                                 input.height, x.resize, x.input_processor);
  return {
      features::backbone_input(tensors.backbone_pixels, features::unit_interval_table(torch::kCPU)),
      clip.id};
}

void run_check(CheckFlags& flags, const CLI::App& command) {
  auto& x = flags.extraction;
  if (!flags.timestep.empty()) {
    const auto time = backbones::parse_diffusion_time(flags.timestep);
    x.point.timestep = time.timestep;
    x.point.sigma = time.sigma;
  }
  std::set<std::string> given;
  for (const auto& [key, value] : parse_backbone_opts(flags.backbone_opts)) {
    x.backbone_options[key] = value;
    given.insert("backbone-opt:" + key);
  }
  for (const auto* option : command.get_options())
    if (option->count() > 0)
      for (const auto& name : option->get_lnames()) given.insert(name);
  features::apply_extraction_preset(flags.preset, x, given);
  backbones::check_backbone_options(x.backbone, x.backbone_options);
  const auto* check_model = backbones::lookup_check_model(x.backbone);
  require(check_model != nullptr,
          "'" + x.backbone +
              "' is not a latent diffusion backbone; vidprobe check runs on those "
              "(e.g. wan2.1-t2v-1.3b)");
  require(x.frames >= 1, "--frames must be at least 1");

  backbones::BackboneOptions options;
  options.weights = x.weights;
  options.random_init = x.random_init;
  options.seed = x.seed;
  options.device = x.device;
  options.dtype = x.compute_dtype.value_or(x.device.is_cuda() ? torch::kBFloat16 : torch::kFloat32);
  options.extra = x.backbone_options;
  const auto model = check_model->make(options);
  const auto& input = model.input;
  require(x.frames % input.frames_multiple == input.frames_offset % input.frames_multiple,
          x.backbone + " needs clips of " + std::to_string(input.frames_multiple) + "k + " +
              std::to_string(input.frames_offset) + " frames; --frames is " +
              std::to_string(x.frames));

  const auto [clip, clip_id] = load_check_clip(flags, input);
  features::CheckOptions check;
  check.time.timestep = x.point.timestep.value_or(model.default_time.timestep);
  check.time.sigma = x.point.timestep ? x.point.sigma : model.default_time.sigma;
  check.noise_seed = x.point.noise_seed;
  check.sample_steps = flags.sample_steps;
  const auto report = features::run_diffusion_check(model, clip, check, clip_id);
  if (!flags.out.empty()) features::write_check_outputs(report, flags.out);
  std::cout << features::check_report_json(report).dump() << std::endl;
}

}  // namespace

void register_check(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "check",
      "Check a diffusion checkpoint before a long extraction: VAE reconstruction PSNR of one clip "
      "and the network's x0 estimate at a noise level (JSON line on stdout; docs/wan.md)");
  auto flags = std::make_shared<CheckFlags>();
  auto& x = flags->extraction;
  x.frames = 17;
  x.dataset_root.clear();
  cmd->add_option("--preset", flags->preset,
                  "Extraction settings to start from: none | vidfm3d (as `extract --preset`)")
      ->check(CLI::IsMember(features::extraction_preset_names()))
      ->capture_default_str();
  cmd->add_option("--backbone", x.backbone, "A latent diffusion backbone, e.g. wan2.1-t2v-1.3b")
      ->required()
      ->check(registered_backbone());
  auto* weights = cmd->add_option("--weights", x.weights, "Model directory (as for extract)");
  cmd->add_flag("--random-init", x.random_init,
                "No checkpoint: seeded random weights (smoke tests only)")
      ->excludes(weights);
  cmd->add_option("--backbone-opt", flags->backbone_opts,
                  "Family-specific setting key=value, repeatable (as for extract)");
  add_parsed_option(
      *cmd, "--compute-dtype", x.compute_dtype,
      [](const std::string& text) -> std::optional<torch::Dtype> {
        if (text == "auto") return std::nullopt;
        return nn::parse_dtype(text, "--compute-dtype");
      },
      "Network weights: auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16; the VAE runs in "
      "fp32",
      "auto");
  cmd->add_option("--data", x.dataset_root,
                  "Dataset root; without it a synthetic clip is rendered at the input size");
  cmd->add_option("--data-kind", x.dataset_kind, "synthetic | co3d | dl3dv")
      ->capture_default_str()
      ->check(dataset_kind());
  cmd->add_option("--clip", flags->clip_id, "Sequence id in --data (default: the first)");
  cmd->add_option("--frames", x.frames, "Frames of the clip (from its start; WAN: 4k + 1)")
      ->capture_default_str()
      ->check(positive());
  add_parsed_option(*cmd, "--resize", x.resize, features::parse_resize_mode,
                    "crop | squash: how frames reach the input size", to_string(x.resize));
  cmd->add_option("--timestep", flags->timestep,
                  "Noise level, as for extract: T (0..1000), sigma=S, or a sampler's schedule "
                  "(unipc:shift=3,steps=1000,index=749); default: the backbone's");
  cmd->add_option("--noise-seed", x.point.noise_seed, "Seed of the noise draw")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--seed", x.seed, "Seed of random weights (--random-init)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--render-seed", flags->render_seed, "Seed of the synthetic clip (no --data)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--sample-steps", flags->sample_steps,
                  "Also generate a clip with the family's sampler in this many steps (WAN: "
                  "UniPC, flow shift 3, the empty prompt; Open-Sora 2.0: Euler rectified flow "
                  "on its shifted schedule, the empty prompt and the clip's first frame) and "
                  "decode it (sample/ PNGs); 0: no")
      ->capture_default_str()
      ->check(non_negative());
  add_device_option(*cmd, x.device);
  cmd->add_option("--out", flags->out,
                  "Directory for check.json and the frames (input/, recon/, x0/, sample/ PNGs)");
  cmd->callback([flags, cmd] { run_check(*flags, *cmd); });
}

}  // namespace vidprobe::cli
