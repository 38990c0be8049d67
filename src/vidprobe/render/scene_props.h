#pragma once
// Procedural props (single shapes and small assemblies such as tables, trees, toy cars) built
// from the mesh primitives and random materials, placed standing on the ground.
#include <memory>
#include <vector>

#include "vidprobe/render/scene_description.h"

namespace vidprobe::render {

enum class PropKind : std::uint8_t {
  // Object-scale (tens of centimetres): the CO3D-like family's subjects.
  kBox,
  kBall,
  kCylinder,
  kTorus,
  kVase,
  kMug,
  kStar,
  kRock,
  kToyCar,
  kStack,
  // Room / outdoor scale (metres): the DL3DV-like family's furniture and landmarks.
  kTable,
  kShelf,
  kCabinet,
  kPillar,
  kLamp,
  kTree,
  kBuilding,
  kWallSegment,
  kBench,
  kBoulder,
};
inline constexpr PropKind kObjectScaleProps[] = {
    PropKind::kBox, PropKind::kBall, PropKind::kCylinder, PropKind::kTorus,  PropKind::kVase,
    PropKind::kMug, PropKind::kStar, PropKind::kRock,     PropKind::kToyCar, PropKind::kStack};
inline constexpr PropKind kIndoorProps[] = {
    PropKind::kTable, PropKind::kShelf, PropKind::kCabinet, PropKind::kPillar, PropKind::kLamp,
    PropKind::kBench, PropKind::kBox,   PropKind::kBall,    PropKind::kVase,   PropKind::kStack};
inline constexpr PropKind kOutdoorProps[] = {
    PropKind::kTree,  PropKind::kBuilding, PropKind::kWallSegment,
    PropKind::kBench, PropKind::kBoulder,  PropKind::kPillar,
    PropKind::kTree,  PropKind::kLamp,     PropKind::kCabinet};

template <typename T, std::size_t N>
T pick(Rng& rng, const T (&items)[N]) {
  return items[rng.integer(0, static_cast<int>(N) - 1)];
}

struct PropBounds {
  Vec3 min, max;  // world axis-aligned bounds of everything the prop added
};

// Appends the prop's objects to scene.objects. size is the prop's characteristic extent in
// metres (largest horizontal dimension, roughly). base is the ground point under its centre.
PropBounds add_prop(Scene& scene, Rng& rng, PropKind kind, Vec3 base, float yaw, float size,
                    float richness, const std::vector<std::shared_ptr<const TextureImage>>& images);

// Bounds of objects [first, scene.objects.size()).
PropBounds bounds_of(const Scene& scene, std::size_t first);

}  // namespace vidprobe::render
