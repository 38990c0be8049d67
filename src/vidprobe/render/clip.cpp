#include "vidprobe/render/clip.h"

#include <chrono>
#include <cstdio>

#include "vidprobe/data/synthetic_format.h"
#include "vidprobe/io/image.h"
#include "vidprobe/render/scene_mesh_loader.h"

namespace vidprobe::render {

RenderAssets load_render_assets(const RenderSettings& settings) {
  RenderAssets assets;
  for (const auto& path : settings.mesh_paths) assets.meshes.push_back(load_mesh_asset(path));
  for (const auto& path : settings.texture_paths)
    assets.images.push_back(make_texture_image(read_rgb(path)));
  return assets;
}

std::string clip_id(Family family, int clip_index) {
  char id[64];
  std::snprintf(id, sizeof id, "%s_%05d", family_name(family).c_str(), clip_index);
  return id;
}

nlohmann::json content_parameters(const RenderSettings& settings) {
  const GenerationParams& g = settings.generation;
  nlohmann::json meshes = nlohmann::json::array(), textures = nlohmann::json::array();
  for (const auto& p : settings.mesh_paths) meshes.push_back(p.string());
  for (const auto& p : settings.texture_paths) textures.push_back(p.string());
  return {{"family", family_name(g.family)},
          {"frames", g.frames},
          {"width", g.width},
          {"height", g.height},
          {"fov_min_deg", g.fov_min_deg},
          {"fov_max_deg", g.fov_max_deg},
          {"motion", g.motion},
          {"texture_richness", g.texture_richness},
          {"seed", g.seed},
          {"shadows", settings.shading.shadows},
          {"shadow_samples", settings.shading.shadow_samples},
          {"meshes", meshes},
          {"textures", textures}};
}

Clip render_clip(const RenderSettings& settings, const RenderAssets& assets, int clip_index,
                 RenderStats* stats) {
  const auto start = std::chrono::steady_clock::now();
  GeneratedClip generated =
      generate_clip(settings.generation, clip_index, assets.meshes, assets.images);
  const SceneTracer tracer(generated.scene);
  Clip clip;
  clip.id = clip_id(settings.generation.family, clip_index);
  clip.frames = render_frames(tracer, generated.cameras, settings.shading, settings.threads);
  for (std::size_t i = 0; i < clip.frames.size(); ++i)
    clip.frames[i].source = clip.id + "/" + std::to_string(i);
  clip.meta = {{"generator", "vidprobe render"},
               {"parameters", content_parameters(settings)},
               {"scene", generated.description},
               {"world_frame", "metres, +z up"}};
  if (stats) {
    stats->rays += tracer.rays_traced();
    stats->seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return clip;
}

}  // namespace vidprobe::render
