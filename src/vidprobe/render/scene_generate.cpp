#include "vidprobe/render/scene_generate.h"

#include "vidprobe/core/error.h"

namespace vidprobe::render {

std::string family_name(Family family) {
  return family == Family::kObjects ? "objects" : "scenes";
}

Family parse_family(const std::string& name) {
  if (name == "objects") return Family::kObjects;
  if (name == "scenes") return Family::kScenes;
  throw Error("unknown scene family '" + name + "' (expected 'objects' or 'scenes')");
}

std::uint64_t clip_seed(const GenerationParams& params, int clip_index) {
  std::uint64_t h = hash_combine(0x76696470726f6265ULL, params.seed);
  h = hash_combine(h, static_cast<std::uint64_t>(params.family) + 1);
  return hash_combine(h, static_cast<std::uint64_t>(clip_index));
}

GeneratedClip generate_clip(const GenerationParams& params, int clip_index,
                            const std::vector<MeshAsset>& meshes,
                            const std::vector<std::shared_ptr<const TextureImage>>& images) {
  require(params.frames >= 1, "--frames must be at least 1");
  require(params.width >= 8 && params.height >= 8, "image size must be at least 8 x 8");
  require(params.fov_min_deg > 1 && params.fov_max_deg < 170 &&
              params.fov_min_deg <= params.fov_max_deg,
          "field of view range [" + std::to_string(params.fov_min_deg) + ", " +
              std::to_string(params.fov_max_deg) + "] must satisfy 1 < min <= max < 170 degrees");
  require(params.motion >= 0 && params.motion <= 10, "--motion must be in [0, 10]");
  require(params.texture_richness >= 0 && params.texture_richness <= 1,
          "--texture-richness must be in [0, 1]");
  require(clip_index >= 0, "clip index must be non-negative");
  const Rng rng(clip_seed(params, clip_index));
  GeneratedClip clip = params.family == Family::kObjects
                           ? generate_objects_clip(params, rng, meshes, images)
                           : generate_scenes_clip(params, rng, meshes, images);
  clip.description["family"] = family_name(params.family);
  clip.description["clip_index"] = clip_index;
  clip.description["clip_seed"] = clip_seed(params, clip_index);
  clip.description["num_objects"] = clip.scene.objects.size();
  return clip;
}

void add_mesh_asset(Scene& scene, const MeshAsset& asset, Vec3 base, float yaw, float size) {
  for (const SceneObject& part : asset.parts) {
    SceneObject placed = part;
    Placement placement{base, yaw, {size, size, size}};
    placement.metric_uvs = part.material.texture.pattern != Pattern::kImage;
    placed.mesh = transformed(part.mesh, placement);
    placed.role = ObjectRole::kProp;
    scene.objects.push_back(std::move(placed));
  }
}

}  // namespace vidprobe::render
