#pragma once
// Procedural clip generation: a scene and a camera trajectory as a pure function of
// (seed, family, clip index, parameters), so growing --clips later leaves existing clips as
// they were.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidprobe/data/frame.h"
#include "vidprobe/render/scene_description.h"

namespace vidprobe::render {

enum class Family : std::uint8_t {
  kObjects,  // CO3D-like: a few objects on a textured ground, camera orbiting them
  kScenes,   // DL3DV-like: rooms and outdoor layouts, camera walking through
};
std::string family_name(Family family);
Family parse_family(const std::string& name);  // throws vidprobe::Error on an unknown name

struct GenerationParams {
  Family family = Family::kObjects;
  int frames = 16;
  int width = 256, height = 256;
  double fov_min_deg = 45, fov_max_deg = 70;  // horizontal field of view range
  double motion = 1.0;                        // scales how far the camera moves per clip
  double texture_richness = 0.7;              // 0: plain colours .. 1: rich patterns
  std::uint64_t seed = 0;
};

// A loaded model normalised to stand on z = 0, centred in x and y, largest extent 1.
struct MeshAsset {
  std::string name;  // file name, for provenance
  std::vector<SceneObject> parts;
};

struct GeneratedClip {
  Scene scene;
  std::vector<Camera> cameras;
  nlohmann::json description;  // what was generated (layout kind, object list, light, fov)
};

GeneratedClip generate_clip(const GenerationParams& params, int clip_index,
                            const std::vector<MeshAsset>& meshes = {},
                            const std::vector<std::shared_ptr<const TextureImage>>& images = {});

// The per-clip seed: a hash of (seed, family, index) only.
std::uint64_t clip_seed(const GenerationParams& params, int clip_index);

// Family-specific generators (scene_family_objects.cpp, scene_family_scenes.cpp).
GeneratedClip generate_objects_clip(const GenerationParams& params, Rng rng,
                                    const std::vector<MeshAsset>& meshes,
                                    const std::vector<std::shared_ptr<const TextureImage>>& images);
GeneratedClip generate_scenes_clip(const GenerationParams& params, Rng rng,
                                   const std::vector<MeshAsset>& meshes,
                                   const std::vector<std::shared_ptr<const TextureImage>>& images);

// Appends a mesh asset scaled to `size` (largest extent) at base with yaw; returns bounds via
// the scene's new objects.
void add_mesh_asset(Scene& scene, const MeshAsset& asset, Vec3 base, float yaw, float size);

}  // namespace vidprobe::render
