#pragma once
// A static synthetic scene: triangle-mesh objects with materials, one light, sky and fog.
// World frame: metres, +z up, ground near z = 0. Cameras follow data/frame.h.
#include <functional>
#include <string>
#include <vector>

#include "vidprobe/render/scene_mesh.h"
#include "vidprobe/render/scene_texture.h"

namespace vidprobe::render {

struct Material {
  Texture texture;
  float specular = 0.05f;   // Blinn-Phong weight
  float shininess = 24.0f;  // Blinn-Phong exponent
};

enum class ObjectRole : std::uint8_t {
  kProp,       // a solid the camera must stay outside of
  kGround,     // floor / terrain: the camera stays above it
  kEnclosure,  // walls and ceiling of a room: the camera stays inside
};

struct SceneObject {
  std::string name;
  TriangleMesh mesh;  // world coordinates
  Material material;
  ObjectRole role = ObjectRole::kProp;
};

struct Light {
  enum class Kind : std::uint8_t { kSun, kPoint };
  Kind kind = Kind::kSun;
  Vec3 direction{0.3f, 0.2f, 0.9f};  // kSun: unit vector towards the sun
  Vec3 position{0, 0, 3};            // kPoint
  Vec3 color{3.0f, 2.9f, 2.7f};      // kSun: irradiance; kPoint: intensity at 1 m
  float softness = 0.0f;             // kSun: angular radius (radians); kPoint: radius (m)
};

struct Scene {
  std::vector<SceneObject> objects;
  Light light;
  Vec3 sky_zenith{0.15f, 0.3f, 0.65f}, sky_horizon{0.6f, 0.7f, 0.8f};
  Vec3 ambient{0.25f, 0.27f, 0.3f};        // from above (sky)
  Vec3 ground_bounce{0.12f, 0.1f, 0.08f};  // from below
  float fog_distance = 0.0f;               // metres; 0 disables aerial perspective
  float exposure = 1.0f;
};

}  // namespace vidprobe::render
