#pragma once
// One synthetic clip end to end: generate the scene and trajectory, build the BVH once, ray
// trace every frame, and package the frames with their cameras and the clip's provenance.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "vidprobe/data/frame.h"
#include "vidprobe/render/scene_generate.h"
#include "vidprobe/render/tracer.h"

namespace vidprobe::render {

struct RenderSettings {
  GenerationParams generation;
  ShadingOptions shading;
  int threads = 0;  // 0 = this process's cores; never changes the output
  std::vector<std::filesystem::path> mesh_paths;
  std::vector<std::filesystem::path> texture_paths;
};

// Models and images, loaded once and shared by every clip.
struct RenderAssets {
  std::vector<MeshAsset> meshes;
  std::vector<std::shared_ptr<const TextureImage>> images;
};
RenderAssets load_render_assets(const RenderSettings& settings);

// "objects_00042"
std::string clip_id(Family family, int clip_index);

// Everything that determines a clip's content (not the thread count), recorded in clip.json
// and compared when resuming into an existing output directory.
nlohmann::json content_parameters(const RenderSettings& settings);

struct RenderStats {
  std::uint64_t rays = 0;
  double seconds = 0;
};

Clip render_clip(const RenderSettings& settings, const RenderAssets& assets, int clip_index,
                 RenderStats* stats = nullptr);

}  // namespace vidprobe::render
