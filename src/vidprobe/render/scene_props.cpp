#include "vidprobe/render/scene_props.h"

#include <limits>
#include <string>

#include "vidprobe/core/error.h"
#include "vidprobe/render/scene_materials.h"

namespace vidprobe::render {
namespace {

// Turns a z-axis shape on its side (axis along y), still resting on z = 0 (wheels).
TriangleMesh lay_along_y(TriangleMesh mesh, float radius) {
  for (Vec3& p : mesh.positions) p = Vec3{p.x, p.z, p.y + radius};
  for (Vec3& n : mesh.normals) n = Vec3{n.x, n.z, n.y};
  return mesh;
}

struct Builder {
  Scene& scene;
  Rng& rng;
  Vec3 base;
  float yaw;
  float richness;
  const std::vector<std::shared_ptr<const TextureImage>>& images;

  Material material(MaterialStyle style) { return random_material(rng, style, richness, images); }

  // Places a local-coordinate part (relative to the prop's base, before the prop's yaw).
  void part(const char* name, TriangleMesh mesh, Vec3 offset, const Material& mat,
            float part_yaw = 0.0f) {
    mesh = transformed(std::move(mesh), Placement{offset, part_yaw, {1, 1, 1}});
    mesh = transformed(std::move(mesh), Placement{base, yaw, {1, 1, 1}});
    scene.objects.push_back(SceneObject{name, std::move(mesh), mat, ObjectRole::kProp});
  }
};

std::vector<std::array<float, 2>> star_polygon(Rng& rng, float outer, int points) {
  std::vector<std::array<float, 2>> polygon;
  const float inner = outer * rng.uniform(0.4f, 0.7f);
  for (int k = 0; k < 2 * points; ++k) {
    const float angle = kPi * static_cast<float>(k) / static_cast<float>(points);
    const float r = k % 2 == 0 ? outer : inner;
    polygon.push_back({r * std::cos(angle), r * std::sin(angle)});
  }
  return polygon;
}

}  // namespace

PropBounds bounds_of(const Scene& scene, std::size_t first) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  PropBounds bounds{{kInf, kInf, kInf}, {-kInf, -kInf, -kInf}};
  for (std::size_t i = first; i < scene.objects.size(); ++i) {
    bounds.min = min(bounds.min, scene.objects[i].mesh.bounds_min());
    bounds.max = max(bounds.max, scene.objects[i].mesh.bounds_max());
  }
  return bounds;
}

namespace {

void build_box(Builder& b, float s) {
  const Vec3 dims{s * b.rng.uniform(0.5f, 1.0f), s * b.rng.uniform(0.5f, 1.0f),
                  s * b.rng.uniform(0.4f, 1.2f)};
  b.part("box", make_box(dims), {}, b.material(MaterialStyle::kProp));
}

void build_ball(Builder& b, float s) {
  b.part("ball", make_sphere(0.5f * s, 24, 48), {}, b.material(MaterialStyle::kProp));
}

void build_cylinder(Builder& b, float s) {
  b.part("cylinder",
         make_cylinder(0.5f * s * b.rng.uniform(0.5f, 1.0f), s * b.rng.uniform(0.6f, 1.5f), 40), {},
         b.material(MaterialStyle::kProp));
}

void build_torus(Builder& b, float s) {
  const float minor = 0.5f * s * b.rng.uniform(0.15f, 0.3f);
  b.part("torus", make_torus(0.5f * s - minor, minor, 24, 48), {},
         b.material(MaterialStyle::kProp));
}

void build_vase(Builder& b, float s) {
  std::vector<std::array<float, 2>> profile;
  const float r = 0.5f * s, h = s * b.rng.uniform(1.0f, 2.0f);
  const float belly = b.rng.uniform(0.25f, 0.6f), neck = b.rng.uniform(0.2f, 0.5f);
  profile.push_back({0.0f, 0.0f});
  for (int k = 0; k <= 16; ++k) {
    const float z = h * static_cast<float>(k) / 16.0f;
    const float t = z / h;
    const float radius = r * (neck + (1 - neck) * std::exp(-std::pow((t - belly) / 0.3f, 2.0f)));
    profile.push_back({radius, z});
  }
  profile.push_back({0.0f, h});
  b.part("vase", make_revolved(profile, 48), {}, b.material(MaterialStyle::kProp));
}

void build_mug(Builder& b, float s) {
  const float r = 0.4f * s, h = s * b.rng.uniform(0.7f, 1.1f);
  const Material mat = b.material(MaterialStyle::kProp);
  b.part("mug body", make_cylinder(r, h, 40), {}, mat);
  TriangleMesh handle = make_torus(0.28f * h, 0.05f * h, 12, 24);
  // Stand the ring up in the xz plane beside the body.
  for (Vec3& p : handle.positions) p = Vec3{p.x, p.z - 0.05f * h, p.y};
  for (Vec3& n : handle.normals) n = Vec3{n.x, n.z, n.y};
  b.part("mug handle", handle, {r + 0.1f * h, 0, 0.5f * h}, mat);
}

void build_star(Builder& b, float s) {
  b.part("star",
         make_extrusion(star_polygon(b.rng, 0.5f * s, b.rng.integer(4, 7)),
                        s * b.rng.uniform(0.2f, 0.6f)),
         {}, b.material(MaterialStyle::kProp));
}

void build_rock(Builder& b, float s) {
  b.part("rock", make_blob(0.5f * s, b.rng.uniform(0.15f, 0.35f), b.rng.next(), 20, 40), {},
         b.material(MaterialStyle::kStone));
}

void build_toy_car(Builder& b, float s) {
  const float len = s, wid = 0.5f * s, wheel = 0.12f * s;
  b.part("car body", make_box({len, wid, 0.3f * s}), {0, 0, wheel},
         b.material(MaterialStyle::kProp));
  b.part("car cabin", make_box({0.5f * len, 0.9f * wid, 0.22f * s}),
         {-0.05f * len, 0, wheel + 0.3f * s}, b.material(MaterialStyle::kProp));
  const Material tyre = b.material(MaterialStyle::kStone);
  for (int k = 0; k < 4; ++k) {
    const float x = (k < 2 ? 0.33f : -0.33f) * len;
    const float y = (k % 2 == 0 ? 0.5f : -0.5f) * wid - (k % 2 == 0 ? 0.0f : 0.08f * s);
    b.part("car wheel", lay_along_y(make_cylinder(wheel, 0.08f * s, 24), wheel), {x, y, 0}, tyre);
  }
}

void build_stack(Builder& b, float s) {
  float z = 0, width = s;
  const int layers = b.rng.integer(2, 4);
  for (int k = 0; k < layers; ++k) {
    const float h = width * b.rng.uniform(0.3f, 0.7f);
    if (b.rng.chance(0.5f)) {
      b.part("stack box", make_box({width, width * b.rng.uniform(0.6f, 1.0f), h}), {0, 0, z},
             b.material(MaterialStyle::kProp), b.rng.uniform(0, kPi));
    } else {
      b.part("stack drum", make_cylinder(0.5f * width, h, 32), {0, 0, z},
             b.material(MaterialStyle::kProp));
    }
    z += h;
    width *= b.rng.uniform(0.55f, 0.85f);
  }
}

void build_table(Builder& b, float s) {
  const float len = s, wid = s * b.rng.uniform(0.5f, 0.9f), h = b.rng.uniform(0.7f, 0.8f),
              top = 0.04f;
  const Material wood = b.material(MaterialStyle::kWood);
  b.part("table top", make_box({len, wid, top}), {0, 0, h - top}, wood);
  for (int k = 0; k < 4; ++k) {
    const float x = (k < 2 ? 0.45f : -0.45f) * len, y = (k % 2 == 0 ? 0.42f : -0.42f) * wid;
    b.part("table leg", make_box({0.05f, 0.05f, h - top}), {x, y, 0}, wood);
  }
}

void build_shelf(Builder& b, float s) {
  const float wid = s, dep = 0.35f, h = b.rng.uniform(1.2f, 2.0f);
  const Material wood = b.material(MaterialStyle::kWood);
  b.part("shelf side", make_box({0.03f, dep, h}), {-0.5f * wid, 0, 0}, wood);
  b.part("shelf side", make_box({0.03f, dep, h}), {0.5f * wid, 0, 0}, wood);
  b.part("shelf back", make_box({wid, 0.02f, h}), {0, 0.5f * dep, 0}, wood);
  const int boards = b.rng.integer(3, 5);
  for (int k = 0; k < boards; ++k) {
    const float z = h * static_cast<float>(k) / static_cast<float>(boards - 1) * 0.97f;
    b.part("shelf board", make_box({wid, dep, 0.03f}), {0, 0, z}, wood);
    if (k + 1 < boards && b.rng.chance(0.7f)) {  // a few things on the shelf
      const float item = b.rng.uniform(0.08f, 0.2f);
      b.part("shelf item", make_box({item, item, item * b.rng.uniform(0.8f, 2.0f)}),
             {b.rng.uniform(-0.35f, 0.35f) * wid, 0, z + 0.03f}, b.material(MaterialStyle::kProp));
    }
  }
}

void build_cabinet(Builder& b, float s) {
  b.part("cabinet", make_box({s, s * b.rng.uniform(0.4f, 0.7f), s * b.rng.uniform(0.6f, 1.4f)}), {},
         b.material(b.rng.chance(0.5f) ? MaterialStyle::kWood : MaterialStyle::kProp));
}

void build_pillar(Builder& b, float s) {
  const float h = b.rng.uniform(2.0f, 4.0f);
  if (b.rng.chance(0.5f)) {
    b.part("pillar", make_cylinder(0.5f * s, h, 32), {}, b.material(MaterialStyle::kStone));
  } else {
    b.part("pillar", make_box({s, s, h}), {}, b.material(MaterialStyle::kWall));
  }
}

void build_lamp(Builder& b, float /*size*/) {
  const float h = b.rng.uniform(1.2f, 1.9f);
  const Material metal = b.material(MaterialStyle::kProp);
  b.part("lamp base", make_cylinder(0.15f, 0.03f, 24), {}, metal);
  b.part("lamp pole", make_cylinder(0.02f, h, 12), {}, metal);
  const std::vector<std::array<float, 2>> shade{
      {0.0f, 0.0f}, {0.22f, 0.0f}, {0.12f, 0.3f}, {0.0f, 0.3f}};
  b.part("lamp shade", make_revolved(shade, 32), {0, 0, h - 0.1f},
         b.material(MaterialStyle::kProp));
}

void build_tree(Builder& b, float s) {
  const float trunk_h = b.rng.uniform(1.5f, 3.0f), crown = s * b.rng.uniform(0.5f, 0.8f);
  b.part("tree trunk", make_cylinder(0.08f * s + 0.05f, trunk_h + 0.3f * crown, 16), {},
         b.material(MaterialStyle::kWood));
  b.part("tree crown", make_blob(crown, 0.25f, b.rng.next(), 16, 32), {0, 0, trunk_h},
         b.material(MaterialStyle::kFoliage));
}

void build_building(Builder& b, float s) {
  const Vec3 dims{s, s * b.rng.uniform(0.6f, 1.2f), b.rng.uniform(3.0f, 12.0f)};
  b.part("building", make_box(dims), {}, b.material(MaterialStyle::kWall));
  if (b.rng.chance(0.5f)) {
    b.part("roof", make_box({dims.x * 1.05f, dims.y * 1.05f, 0.3f}), {0, 0, dims.z},
           b.material(MaterialStyle::kStone));
  }
}

void build_wall_segment(Builder& b, float s) {
  const float len = s, thick = 0.3f, h = b.rng.uniform(1.0f, 2.5f);
  std::vector<std::array<float, 2>> shape{
      {-0.5f * len, -thick}, {0.5f * len, -thick}, {0.5f * len, thick}, {-0.5f * len, thick}};
  if (b.rng.chance(0.5f)) {  // L-shaped
    shape = {{-0.5f * len, -thick},           {0.5f * len, -thick},
             {0.5f * len, 0.5f * len},        {0.5f * len - 2 * thick, 0.5f * len},
             {0.5f * len - 2 * thick, thick}, {-0.5f * len, thick}};
  }
  b.part("wall", make_extrusion(shape, h), {}, b.material(MaterialStyle::kWall));
}

void build_bench(Builder& b, float s) {
  const float len = s, dep = 0.4f, h = 0.45f;
  const Material wood = b.material(MaterialStyle::kWood);
  b.part("bench seat", make_box({len, dep, 0.05f}), {0, 0, h}, wood);
  b.part("bench leg", make_box({0.06f, dep, h}), {-0.4f * len, 0, 0}, wood);
  b.part("bench leg", make_box({0.06f, dep, h}), {0.4f * len, 0, 0}, wood);
}

void build_boulder(Builder& b, float s) {
  b.part("boulder", make_blob(0.5f * s, b.rng.uniform(0.2f, 0.4f), b.rng.next(), 20, 40), {},
         b.material(MaterialStyle::kStone));
}

// One builder per kind (llama.cpp's one-function-per-architecture layout): each places its parts
// with the prop's builder, sized by s; they draw from the scene's random stream in a fixed order.
using PropBuilder = void (*)(Builder&, float);

PropBuilder builder_for(PropKind kind) {
  switch (kind) {
    case PropKind::kBox:
      return build_box;
    case PropKind::kBall:
      return build_ball;
    case PropKind::kCylinder:
      return build_cylinder;
    case PropKind::kTorus:
      return build_torus;
    case PropKind::kVase:
      return build_vase;
    case PropKind::kMug:
      return build_mug;
    case PropKind::kStar:
      return build_star;
    case PropKind::kRock:
      return build_rock;
    case PropKind::kToyCar:
      return build_toy_car;
    case PropKind::kStack:
      return build_stack;
    case PropKind::kTable:
      return build_table;
    case PropKind::kShelf:
      return build_shelf;
    case PropKind::kCabinet:
      return build_cabinet;
    case PropKind::kPillar:
      return build_pillar;
    case PropKind::kLamp:
      return build_lamp;
    case PropKind::kTree:
      return build_tree;
    case PropKind::kBuilding:
      return build_building;
    case PropKind::kWallSegment:
      return build_wall_segment;
    case PropKind::kBench:
      return build_bench;
    case PropKind::kBoulder:
      return build_boulder;
  }
  throw Error("unknown prop kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace

PropBounds add_prop(Scene& scene, Rng& rng, PropKind kind, Vec3 base, float yaw, float size,
                    float richness,
                    const std::vector<std::shared_ptr<const TextureImage>>& images) {
  const std::size_t first = scene.objects.size();
  Builder b{scene, rng, base, yaw, richness, images};
  builder_for(kind)(b, size);
  return bounds_of(scene, first);
}

}  // namespace vidprobe::render
