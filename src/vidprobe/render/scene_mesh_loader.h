#pragma once
// Loads textured models (Wavefront OBJ + MTL via tinyobjloader, glTF / GLB via tinygltf) as
// MeshAssets: one part per material, converted from the files' y-up convention to the
// renderer's z-up world, centred in x and y, resting on z = 0 and scaled to a largest extent of 1.
#include <filesystem>

#include "vidprobe/render/scene_generate.h"

namespace vidprobe::render {

// Throws vidprobe::Error naming the file (model or texture) at fault.
MeshAsset load_mesh_asset(const std::filesystem::path& path);

}  // namespace vidprobe::render
