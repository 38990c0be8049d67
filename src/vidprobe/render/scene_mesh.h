#pragma once
// Triangle meshes for the synthetic renderer and the procedural shapes it builds scenes from.
// Every builder returns a mesh in metres with per-vertex normals and texture coordinates in
// metres along the surface (so a texture's scale means the same on every shape).
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "vidprobe/render/scene_math.h"

namespace vidprobe::render {

struct TriangleMesh {
  std::vector<Vec3> positions;
  std::vector<Vec3> normals;              // one per position, unit length
  std::vector<std::array<float, 2>> uvs;  // one per position
  std::vector<std::array<std::uint32_t, 3>> triangles;

  void append(const TriangleMesh& other);
  Vec3 bounds_min() const;
  Vec3 bounds_max() const;
};

// Rigid placement plus per-axis scale: x_world = position + R_z(yaw) * (scale * x_local).
struct Placement {
  Vec3 position{};
  float yaw = 0;  // radians about +z
  Vec3 scale{1, 1, 1};
  bool metric_uvs = true;  // rescale uvs with the object (false for image-textured model uvs)
};
TriangleMesh transformed(TriangleMesh mesh, const Placement& placement);

// Shapes in local coordinates; "standing" shapes rest on z = 0.
TriangleMesh make_box(Vec3 size);  // centred in x, y; z from 0 to size.z
TriangleMesh make_sphere(float radius, int rings, int segments);  // centred at (0, 0, radius)
TriangleMesh make_cylinder(float radius, float height, int segments, bool capped = true);
TriangleMesh make_torus(float major_radius, float minor_radius, int rings, int segments);
// Lathe: a profile (radius, z) revolved about the z axis (vases, bottles, lamp shades).
TriangleMesh make_revolved(const std::vector<std::array<float, 2>>& profile, int segments);
// A simple polygon (counter-clockwise, in the xy plane) extruded from z = 0 to height.
TriangleMesh make_extrusion(const std::vector<std::array<float, 2>>& polygon, float height);
// Regular grid over [-half_extent, half_extent]^2 with z = height(x, y).
TriangleMesh make_heightfield(float half_extent, int cells,
                              const std::function<float(float, float)>& height);
// Unit-ish blob: a sphere whose radius is modulated by smooth noise (rocks, bushes).
TriangleMesh make_blob(float radius, float roughness, std::uint64_t seed, int rings, int segments);

}  // namespace vidprobe::render
