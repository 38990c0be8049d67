// `vidprobe render`: synthetic multi-view clips (RGB, metric depth, validity mask, cameras) in
// vidprobe's clip format (docs/data-format.md). Resumable: finished clips are skipped.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "typed_options.h"
#include "vidprobe/core/error.h"
#include "vidprobe/core/output_directory.h"
#include "vidprobe/core/resumable.h"
#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/render/clip.h"
#include "vidprobe/render/tracer.h"

namespace vidprobe::cli {
namespace {

struct RenderOptions {
  std::string family = "objects";
  int clips = 8;
  int frames = 16;
  int size = 256;
  int width = 0, height = 0;  // override --size
  double fov_min = 45, fov_max = 70;
  double motion = 1.0;
  double texture_richness = 0.7;
  std::uint64_t seed = 0;
  int threads = 0;
  std::string out;
  std::vector<std::string> meshes, textures;
  bool no_shadows = false;
  int shadow_samples = 1;
};

void run_render(const RenderOptions& o) {
  namespace fs = std::filesystem;
  render::RenderSettings settings;
  settings.generation.family = render::parse_family(o.family);
  settings.generation.frames = o.frames;
  settings.generation.width = o.width > 0 ? o.width : o.size;
  settings.generation.height = o.height > 0 ? o.height : o.size;
  settings.generation.fov_min_deg = o.fov_min;
  settings.generation.fov_max_deg = o.fov_max;
  settings.generation.motion = o.motion;
  settings.generation.texture_richness = o.texture_richness;
  settings.generation.seed = o.seed;
  settings.shading.shadows = !o.no_shadows;
  settings.shading.shadow_samples = o.shadow_samples;
  settings.threads = o.threads;
  for (const auto& m : o.meshes) settings.mesh_paths.emplace_back(m);
  for (const auto& t : o.textures) settings.texture_paths.emplace_back(t);
  require(o.clips >= 0, "--clips must be non-negative");
  require(o.threads >= 0, "--threads must be non-negative");
  require(o.shadow_samples >= 1 && o.shadow_samples <= 64, "--shadow-samples must be in [1, 64]");
  require(o.fov_min <= o.fov_max, "--fov-min " + std::to_string(o.fov_min) +
                                      " is larger than --fov-max " + std::to_string(o.fov_max));

  const fs::path root(o.out);
  prepare_output_directory(root, "render");
  const nlohmann::json parameters = render::content_parameters(settings);

  // Resume: finished clips must have been rendered with the same parameters, otherwise the
  // directory would mix two datasets. All are checked before anything is rendered.
  std::vector<bool> finished(static_cast<std::size_t>(o.clips), false);
  int done = 0;
  for (int i = 0; i < o.clips; ++i) {
    const std::string id = render::clip_id(settings.generation.family, i);
    if (!synthetic_clip_exists(root, id)) continue;
    finished[static_cast<std::size_t>(i)] = true;
    ++done;
    const nlohmann::json existing = read_synthetic_clip_json(root / id);
    const nlohmann::json previous =
        existing.value("meta", nlohmann::json::object()).value("parameters", nlohmann::json());
    require(previous == parameters, "existing clip '" + (root / id / "clip.json").string() +
                                        "' was rendered with different parameters " +
                                        previous.dump() + "; use another --out directory");
  }
  if (done > 0) {
    std::fprintf(stderr, "vidprobe render: %d of %d clips already complete in %s, rendering %d\n",
                 done, o.clips, root.string().c_str(), o.clips - done);
  }
  const render::RenderAssets assets = render::load_render_assets(settings);
  render::RenderStats stats;
  const auto counts = run_resumable(
      static_cast<std::size_t>(o.clips), {.label = "render " + o.family, .unit = "clips"},
      [&](std::size_t i) -> std::optional<int> {
        return finished[i] ? std::nullopt : std::optional<int>(static_cast<int>(i));
      },
      [&](int index) {
        write_synthetic_clip(root, render::render_clip(settings, assets, index, &stats));
      });
  if (stats.seconds > 0) {
    const double frames = static_cast<double>(counts.processed) * settings.generation.frames;
    std::fprintf(
        stderr,
        "vidprobe render: %zu clips, %.1f frames/s, %.2f Mrays/s (render only, %d threads)\n",
        counts.processed, frames / stats.seconds,
        static_cast<double>(stats.rays) / stats.seconds / 1e6, render::render_threads(o.threads));
  }
}

}  // namespace

void register_render(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "render", "Render synthetic multi-view clips with exact depth, masks and cameras");
  auto options = std::make_shared<RenderOptions>();
  cmd->add_option("--family", options->family,
                  "Scene family: objects (CO3D-like) or scenes (DL3DV-like)")
      ->check(CLI::IsMember({"objects", "scenes"}));
  cmd->add_option("--clips", options->clips, "Number of clips (ids <family>_00000 ...)")
      ->check(positive());
  cmd->add_option("--frames", options->frames, "Frames per clip")->check(in_range(1, 100000));
  cmd->add_option("--size", options->size, "Square image size in pixels")->check(in_range(8, 8192));
  cmd->add_option("--width", options->width, "Image width (overrides --size)")
      ->check(in_range(8, 8192));
  cmd->add_option("--height", options->height, "Image height (overrides --size)")
      ->check(in_range(8, 8192));
  cmd->add_option("--fov-min", options->fov_min, "Smallest horizontal field of view, degrees")
      ->check(in_range(2, 169));
  cmd->add_option("--fov-max", options->fov_max, "Largest horizontal field of view, degrees")
      ->check(in_range(2, 169));
  cmd->add_option("--motion", options->motion, "Camera motion magnitude scale (1 = default)")
      ->check(in_range(0, 100));
  cmd->add_option("--texture-richness", options->texture_richness,
                  "0 = plain colours .. 1 = rich textures")
      ->check(in_range(0, 1));
  cmd->add_option("--seed", options->seed, "Dataset seed")->check(non_negative());
  cmd->add_option("--threads", options->threads,
                  "Render threads (0 = all of this process's cores; output does not depend on it)")
      ->check(non_negative());
  cmd->add_option("--out", options->out, "Output dataset directory")->required();
  cmd->add_option("--mesh", options->meshes,
                  "Textured model (.obj/.gltf/.glb) to place in scenes; repeatable");
  cmd->add_option("--texture", options->textures,
                  "Image (.png/.jpg) used as a surface texture; repeatable");
  cmd->add_flag("--no-shadows", options->no_shadows, "Disable shadow rays");
  cmd->add_option("--shadow-samples", options->shadow_samples,
                  "Shadow rays per pixel (>1: soft shadows)")
      ->check(in_range(1, 64));
  cmd->callback([options] { run_render(*options); });
}

}  // namespace vidprobe::cli
