// The DL3DV-like family: a room (walls, ceiling, point light) or an outdoor layout (terrain,
// buildings, trees, sun, fog) with many props; the camera walks a smooth path through it,
// panning, tilting and rolling slightly like handheld video. The path is chosen first and props
// are only placed where they keep a clearance from it, so the camera never enters geometry.
#include <cmath>
#include <functional>

#include "vidprobe/render/scene_camera.h"
#include "vidprobe/render/scene_generate.h"
#include "vidprobe/render/scene_materials.h"
#include "vidprobe/render/scene_noise.h"
#include "vidprobe/render/scene_props.h"

namespace vidprobe::render {
namespace {

struct Area {
  float x0, y0, x1, y1;  // walkable rectangle
  bool contains(float x, float y) const { return x >= x0 && x <= x1 && y >= y0 && y <= y1; }
};

struct Path {
  std::vector<Vec3> points;  // ground positions (z unused), one per frame
  std::vector<float> headings;
  std::vector<Vec3> clearance_points;  // the walk sampled densely
};

// Horizontal distance from p to a box's footprint (0 inside).
float distance_to_footprint(Vec3 p, const PropBounds& b) {
  const float dx = std::max({b.min.x - p.x, 0.0f, p.x - b.max.x});
  const float dy = std::max({b.min.y - p.y, 0.0f, p.y - b.max.y});
  return std::hypot(dx, dy);
}

// A gently curving walk between two points inside area (straight line plus a smooth lateral
// sway, clamped to the area; the area is convex so the result stays inside).
Path make_walk(Rng& rng, const Area& area, float length, int frames, float sway) {
  Vec3 start, end;
  float best = -1;
  for (int attempt = 0; attempt < 64; ++attempt) {
    const Vec3 a{rng.uniform(area.x0, area.x1), rng.uniform(area.y0, area.y1), 0};
    const Vec3 b{rng.uniform(area.x0, area.x1), rng.uniform(area.y0, area.y1), 0};
    const float error = std::abs(length - std::hypot(b.x - a.x, b.y - a.y));
    if (best < 0 || error < best) {
      best = error;
      start = a;
      end = b;
    }
  }
  const Vec3 along = end - start;
  const Vec3 side = normalize(Vec3{-along.y, along.x, 0});
  const SmoothSignal lateral(rng, 0.35f);
  auto position = [&](float s) {
    Vec3 p = start + along * s +
             side * (sway * (lateral.at(s) - lateral.at(0) * (1 - s) - lateral.at(1) * s));
    p.x = std::clamp(p.x, area.x0, area.x1);
    p.y = std::clamp(p.y, area.y0, area.y1);
    return p;
  };
  Path path;
  const float chord_heading = std::atan2(along.y, along.x);
  for (int i = 0; i < frames; ++i) {
    const float s = frames > 1 ? static_cast<float>(i) / static_cast<float>(frames - 1) : 0.0f;
    path.points.push_back(position(s));
    // Heading follows a wide central difference of the path (a person looks where they are
    // going over the next metres, not along every sway), so it turns smoothly whatever the
    // frame count; a (near) stationary path keeps the chord's heading.
    const Vec3 d = position(std::min(s + 0.15f, 1.0f)) - position(std::max(s - 0.15f, 0.0f));
    float heading = std::hypot(d.x, d.y) > 1e-3f ? std::atan2(d.y, d.x) : chord_heading;
    while (heading - chord_heading > kPi) heading -= 2 * kPi;
    while (heading - chord_heading < -kPi) heading += 2 * kPi;
    path.headings.push_back(chord_heading + 0.7f * (heading - chord_heading));
  }
  // Dense samples between frames: props must clear the whole walk, not only the frame positions.
  for (int k = 0; k <= 128; ++k)
    path.clearance_points.push_back(position(static_cast<float>(k) / 128.0f));
  return path;
}

// Tries to add a prop that keeps `clearance` from every path point (and stays inside `bounds`
// if given); rolls the prop back when it does not fit.
bool try_add_prop(Scene& scene, const std::function<PropBounds()>& build, const Path& path,
                  float clearance, const Area* bounds) {
  const std::size_t first = scene.objects.size();
  const PropBounds box = build();
  bool fits = !bounds || (box.min.x >= bounds->x0 && box.max.x <= bounds->x1 &&
                          box.min.y >= bounds->y0 && box.max.y <= bounds->y1);
  for (const Vec3& p : path.clearance_points) {
    if (!fits) break;
    fits = distance_to_footprint(p, box) >= clearance;
  }
  if (!fits) scene.objects.resize(first);
  return fits;
}

struct Room {
  float width, depth, height;
};

void build_room(Scene& scene, Rng& rng, const Room& room, float richness,
                const std::vector<std::shared_ptr<const TextureImage>>& images) {
  const float hw = room.width / 2, hd = room.depth / 2, wall = 0.2f;
  scene.objects.push_back(SceneObject{
      "floor", make_heightfield(std::max(hw, hd) + wall, 1, [](float, float) { return 0.0f; }),
      random_material(rng, MaterialStyle::kGround, richness, images), ObjectRole::kGround});
  const Material walls = random_material(rng, MaterialStyle::kWall, richness, images);
  const Material accent =
      rng.chance(0.5f) ? random_material(rng, MaterialStyle::kWall, richness, images) : walls;
  auto add_wall = [&](Vec3 size, Vec3 at, const Material& m) {
    scene.objects.push_back(SceneObject{"wall",
                                        transformed(make_box(size), Placement{at, 0, {1, 1, 1}}), m,
                                        ObjectRole::kEnclosure});
  };
  add_wall({room.width + 2 * wall, wall, room.height}, {0, -hd - wall / 2, 0}, walls);
  add_wall({room.width + 2 * wall, wall, room.height}, {0, hd + wall / 2, 0}, accent);
  add_wall({wall, room.depth, room.height}, {-hw - wall / 2, 0, 0}, walls);
  add_wall({wall, room.depth, room.height}, {hw + wall / 2, 0, 0}, accent);
  Material ceiling = random_material(rng, MaterialStyle::kWall, richness * 0.3f);
  ceiling.texture.pattern = rng.chance(0.5f) ? Pattern::kFlat : Pattern::kChecker;
  ceiling.texture.color_a = Vec3{0.8f, 0.8f, 0.78f};
  ceiling.texture.color_b = Vec3{0.65f, 0.65f, 0.62f};
  ceiling.texture.scale = 0.6f;
  scene.objects.push_back(SceneObject{"ceiling",
                                      transformed(make_box({room.width, room.depth, 0.1f}),
                                                  Placement{{0, 0, room.height}, 0, {1, 1, 1}}),
                                      ceiling, ObjectRole::kEnclosure});
  // Baseboards give the wall-floor seam structure.
  if (rng.chance(0.6f)) {
    const Material trim = random_material(rng, MaterialStyle::kWood, richness, images);
    add_wall({room.width, 0.03f, 0.1f}, {0, -hd + 0.015f, 0}, trim);
    add_wall({room.width, 0.03f, 0.1f}, {0, hd - 0.015f, 0}, trim);
  }
}

// Where the camera may walk and props may stand, the ground height, and the walk's scale.
struct Layout {
  std::function<float(float, float)> ground = [](float, float) { return 0.0f; };
  Area walkable{}, placeable{};
  float path_length = 0, clearance = 0, eye_height = 0;
  Room room{};
};

// A room with walls, floor and ceiling, lit by a point light under the ceiling.
void build_indoor(Scene& scene, Layout& layout, Rng& layout_rng, Rng& camera_rng, Rng& light_rng,
                  float richness, float motion,
                  const std::vector<std::shared_ptr<const TextureImage>>& images) {
  auto& [ground, walkable, placeable, path_length, clearance, eye_height, room] = layout;
  room = Room{layout_rng.uniform(5.5f, 14.0f), layout_rng.uniform(5.0f, 12.0f),
              layout_rng.uniform(2.6f, 3.6f)};
  build_room(scene, layout_rng, room, richness, images);
  // Walk in the middle of the room so the view is mostly of the room, not one wall.
  const float margin_x = std::max(1.0f, 0.25f * room.width),
              margin_y = std::max(1.0f, 0.25f * room.depth);
  walkable = {-room.width / 2 + margin_x, -room.depth / 2 + margin_y, room.width / 2 - margin_x,
              room.depth / 2 - margin_y};
  placeable = {-room.width / 2 + 0.05f, -room.depth / 2 + 0.05f, room.width / 2 - 0.05f,
               room.depth / 2 - 0.05f};
  path_length = motion * camera_rng.uniform(1.5f, 4.5f);
  clearance = 0.6f;
  eye_height = std::min(eye_height, room.height - 0.5f);
  scene.light.kind = Light::Kind::kPoint;
  scene.light.position = Vec3{light_rng.uniform(walkable.x0, walkable.x1),
                              light_rng.uniform(walkable.y0, walkable.y1), room.height - 0.35f};
  const float warmth = light_rng.uniform(0.0f, 0.25f);
  scene.light.color = Vec3{1.0f + warmth, 1.0f, 1.0f - warmth} *
                      (light_rng.uniform(1.2f, 2.2f) * room.height * room.height);
  scene.light.softness = light_rng.chance(0.5f) ? light_rng.uniform(0.05f, 0.25f) : 0.0f;
  scene.ambient = Vec3{0.3f, 0.29f, 0.27f} * light_rng.uniform(0.7f, 1.3f);
  scene.ground_bounce = scene.ambient * 0.6f;
}

// Rolling terrain under a sky, lit by the sun, hazy toward the horizon.
void build_outdoor(Scene& scene, Layout& layout, Rng& layout_rng, Rng& camera_rng, Rng& light_rng,
                   float richness, float motion,
                   const std::vector<std::shared_ptr<const TextureImage>>& images) {
  auto& [ground, walkable, placeable, path_length, clearance, eye_height, room] = layout;
  const float hills = layout_rng.uniform(0.2f, 2.0f), hill_scale = layout_rng.uniform(15.0f, 40.0f);
  const auto terrain_seed = static_cast<std::uint32_t>(layout_rng.next());
  ground = [=](float x, float y) {
    // Flat near the walkable centre, rising toward the horizon.
    const float r = std::hypot(x, y);
    const float ramp = 0.3f + 0.7f * smoothstep(10.0f, 45.0f, r);
    return hills * ramp *
           (2.0f * fractal_noise({x, y, 0}, 1.0f / hill_scale, 3, terrain_seed) - 0.8f);
  };
  scene.objects.push_back(SceneObject{
      "terrain", make_heightfield(90.0f, 128, ground),
      random_material(layout_rng, MaterialStyle::kGround, richness, images), ObjectRole::kGround});
  walkable = {-14, -14, 14, 14};
  placeable = {-35, -35, 35, 35};
  path_length = motion * camera_rng.uniform(4.0f, 12.0f);
  clearance = 1.0f;
  const float elevation = radians(light_rng.uniform(20, 65)),
              azimuth = light_rng.uniform(0, 2 * kPi);
  scene.light.direction = Vec3{std::cos(elevation) * std::cos(azimuth),
                               std::cos(elevation) * std::sin(azimuth), std::sin(elevation)};
  scene.light.color = Vec3{1.05f, 1.0f, 0.92f} * light_rng.uniform(1.5f, 2.2f);
  scene.light.softness = light_rng.chance(0.5f) ? radians(light_rng.uniform(0.5f, 2.0f)) : 0.0f;
  scene.sky_zenith = hsv(light_rng.uniform(0.55f, 0.63f), light_rng.uniform(0.35f, 0.7f),
                         light_rng.uniform(0.55f, 0.8f));
  scene.sky_horizon = hsv(light_rng.uniform(0.52f, 0.6f), light_rng.uniform(0.1f, 0.25f),
                          light_rng.uniform(0.8f, 0.95f));
  scene.ambient = scene.sky_zenith * light_rng.uniform(0.35f, 0.55f);
  scene.ground_bounce = Vec3{0.1f, 0.1f, 0.08f};
  scene.fog_distance = light_rng.uniform(60.0f, 200.0f);
}

// Props: many placements are tried; those that leave the path clear are kept. Returns how many.
int place_props(Scene& scene, const Layout& layout, const Path& path, Rng& prop_rng, bool indoor,
                float richness, const std::vector<MeshAsset>& meshes,
                const std::vector<std::shared_ptr<const TextureImage>>& images) {
  const auto& [ground, walkable, placeable, path_length, clearance, eye_height, room] = layout;
  // Props: try many placements; keep those that leave the path clear.
  const int wanted = indoor ? prop_rng.integer(6, 14) : prop_rng.integer(30, 55);
  int placed = 0;
  for (int attempt = 0; attempt < wanted * 6 && placed < wanted; ++attempt) {
    Rng one = prop_rng.fork(static_cast<std::uint64_t>(attempt));
    float x = one.uniform(placeable.x0, placeable.x1), y = one.uniform(placeable.y0, placeable.y1);
    if (!indoor && one.chance(0.6f)) {
      // Outdoors, crowd the walk so that most of the view is structure, not empty terrain.
      const Vec3 near = path.points[static_cast<std::size_t>(
          one.integer(0, static_cast<int>(path.points.size()) - 1))];
      const float angle = one.uniform(0, 2 * kPi), reach = one.uniform(2.0f, 12.0f);
      x = near.x + reach * std::cos(angle);
      y = near.y + reach * std::sin(angle);
    }
    const Vec3 base{x, y, ground(x, y) - 0.05f};
    const float yaw = one.chance(0.6f) ? static_cast<float>(one.integer(0, 3)) * 0.5f * kPi
                                       : one.uniform(0, 2 * kPi);
    const bool use_mesh = !meshes.empty() && one.chance(0.25f);
    auto build = [&]() -> PropBounds {
      const std::size_t first = scene.objects.size();
      if (use_mesh) {
        const MeshAsset& asset =
            meshes[static_cast<std::size_t>(one.integer(0, static_cast<int>(meshes.size()) - 1))];
        add_mesh_asset(scene, asset, base, yaw,
                       indoor ? one.uniform(0.4f, 1.2f) : one.uniform(1.0f, 3.0f));
        return bounds_of(scene, first);
      }
      const PropKind kind = indoor ? pick(one, kIndoorProps) : pick(one, kOutdoorProps);
      float size = 1.0f;
      switch (kind) {
        case PropKind::kBuilding:
          size = one.uniform(4.0f, 10.0f);
          break;
        case PropKind::kTree:
          size = one.uniform(2.0f, 4.5f);
          break;
        case PropKind::kWallSegment:
          size = one.uniform(2.0f, 6.0f);
          break;
        case PropKind::kBoulder:
          size = one.uniform(0.8f, 2.5f);
          break;
        case PropKind::kPillar:
          size = one.uniform(0.25f, 0.6f);
          break;
        default:
          size = indoor ? one.uniform(0.4f, 1.6f) : one.uniform(0.6f, 2.0f);
      }
      return add_prop(scene, one, kind, base, yaw, size, richness, images);
    };
    if (try_add_prop(scene, build, path, clearance, indoor ? &placeable : nullptr)) ++placed;
  }

  return placed;
}

// Cameras along the path: heading = path direction + pan; pitch, roll and bob wobble. Returns
// the horizontal field of view (radians).
double add_cameras(GeneratedClip& clip, const GenerationParams& params, const Layout& layout,
                   const Path& path, Rng& camera_rng, bool turn_in_place, float motion) {
  const auto& ground = layout.ground;
  const float eye_height = layout.eye_height;
  // Camera: along the path, heading = path direction + pan; pitch, roll and bob wobble.
  const double fov_x = radians(camera_rng.uniform(static_cast<float>(params.fov_min_deg),
                                                  static_cast<float>(params.fov_max_deg)));
  const SmoothSignal pan(camera_rng, 0.3f), tilt(camera_rng, 0.6f), roll(camera_rng, 0.9f),
      bob(camera_rng, 1.5f);
  const float pan_amplitude = radians(camera_rng.uniform(8, 35)) * std::min(motion, 3.0f);
  const float sweep = turn_in_place ? radians(camera_rng.uniform(40, 120)) * motion *
                                          (camera_rng.chance(0.5f) ? 1.0f : -1.0f)
                                    : 0.0f;
  const float pitch0 = radians(camera_rng.uniform(-14, 4));
  const float roll0 = radians(camera_rng.uniform(-2, 2));
  const float base_heading = path.headings.front();
  for (int i = 0; i < params.frames; ++i) {
    const float s =
        params.frames > 1 ? static_cast<float>(i) / static_cast<float>(params.frames - 1) : 0.0f;
    const Vec3 p = path.points[static_cast<std::size_t>(i)];
    const float heading =
        (turn_in_place ? base_heading + sweep * s : path.headings[static_cast<std::size_t>(i)]) +
        pan_amplitude * (pan.at(s) - pan.at(0)) * 0.8f;
    const float pitch = pitch0 + radians(4.0f) * std::min(motion, 2.0f) * tilt.at(s);
    const Vec3 eye{p.x, p.y,
                   ground(p.x, p.y) + eye_height + 0.03f * std::min(motion, 2.0f) * bob.at(s)};
    const Vec3 forward{std::cos(pitch) * std::cos(heading), std::cos(pitch) * std::sin(heading),
                       std::sin(pitch)};
    clip.cameras.push_back(
        make_camera(params.width, params.height, fov_x, eye, forward,
                    roll0 + radians(1.5f) * std::min(motion, 2.0f) * roll.at(s)));
  }
  return fov_x;
}

}  // namespace

GeneratedClip generate_scenes_clip(const GenerationParams& params, Rng rng,
                                   const std::vector<MeshAsset>& meshes,
                                   const std::vector<std::shared_ptr<const TextureImage>>& images) {
  GeneratedClip clip;
  const auto richness = static_cast<float>(params.texture_richness);
  const auto motion = static_cast<float>(params.motion);
  Rng layout_rng = rng.fork(1), camera_rng = rng.fork(2), prop_rng = rng.fork(3),
      light_rng = rng.fork(4);
  const bool indoor = layout_rng.chance(0.5f);
  const bool turn_in_place = camera_rng.chance(0.2f);
  Layout layout;
  layout.eye_height = camera_rng.uniform(1.3f, 1.75f);
  if (indoor)
    build_indoor(clip.scene, layout, layout_rng, camera_rng, light_rng, richness, motion, images);
  else
    build_outdoor(clip.scene, layout, layout_rng, camera_rng, light_rng, richness, motion, images);
  if (turn_in_place) layout.path_length = std::min(layout.path_length, 0.5f * motion);

  const Path path = make_walk(camera_rng, layout.walkable, layout.path_length, params.frames,
                              indoor ? 0.3f : 0.8f);
  const int placed =
      place_props(clip.scene, layout, path, prop_rng, indoor, richness, meshes, images);
  const double fov_x = add_cameras(clip, params, layout, path, camera_rng, turn_in_place, motion);
  clip.description = {{"layout", indoor ? "room" : "outdoor"},
                      {"camera_motion", turn_in_place ? "turn" : "walk"},
                      {"fov_x_deg", fov_x * 180.0 / kPi},
                      {"path_length_m", layout.path_length},
                      {"props", placed}};
  if (indoor)
    clip.description["room_m"] = {layout.room.width, layout.room.depth, layout.room.height};
  return clip;
}

}  // namespace vidprobe::render
