// The CO3D-like family: one main object (procedural or a loaded mesh), a couple of companions,
// a textured ground and distant background props; the camera arcs around the main object at a
// jittered radius and height, always looking at it, like a person circling an object with a
// phone.
#include <cmath>

#include "vidprobe/render/scene_camera.h"
#include "vidprobe/render/scene_generate.h"
#include "vidprobe/render/scene_materials.h"
#include "vidprobe/render/scene_props.h"

namespace vidprobe::render {
namespace {

void set_outdoor_light(Scene& scene, Rng& rng) {
  const float elevation = radians(rng.uniform(25, 70)), azimuth = rng.uniform(0, 2 * kPi);
  scene.light.kind = Light::Kind::kSun;
  scene.light.direction = Vec3{std::cos(elevation) * std::cos(azimuth),
                               std::cos(elevation) * std::sin(azimuth), std::sin(elevation)};
  const float warmth = rng.uniform(-0.1f, 0.15f);
  scene.light.color = Vec3{1.0f + warmth, 1.0f, 1.0f - warmth} * rng.uniform(1.5f, 2.2f);
  scene.light.softness = rng.chance(0.5f) ? radians(rng.uniform(0.5f, 3.0f)) : 0.0f;
  const float overcast = rng.uniform(0.0f, 0.6f);
  scene.sky_zenith = lerp(hsv(rng.uniform(0.55f, 0.63f), rng.uniform(0.4f, 0.7f), 0.7f),
                          Vec3{0.6f, 0.62f, 0.65f}, overcast);
  scene.sky_horizon =
      lerp(hsv(rng.uniform(0.5f, 0.6f), 0.2f, 0.95f), Vec3{0.8f, 0.8f, 0.8f}, overcast);
  scene.ambient = scene.sky_zenith * rng.uniform(0.35f, 0.55f);
  scene.ground_bounce = Vec3{0.12f, 0.11f, 0.1f};
  scene.light.color = scene.light.color * (1.0f - 0.5f * overcast);
}


// Background props well outside the camera's orbit (radius > inner), so they never occlude the
// subject.
void add_background_props(Scene& scene, Rng& layout_rng, float inner, float richness,
                          const std::vector<std::shared_ptr<const TextureImage>>& images) {
  const int background = layout_rng.integer(3, 9);
  for (int k = 0; k < background; ++k) {
    const float angle = layout_rng.uniform(0, 2 * kPi);
    const float radius = layout_rng.uniform(inner + 1.0f, inner + 12.0f);
    const PropKind kind = pick(layout_rng, kOutdoorProps);
    const float prop_size =
        kind == PropKind::kBuilding ? layout_rng.uniform(3, 7) : layout_rng.uniform(0.8f, 2.5f);
    if (radius - prop_size < inner) continue;
    add_prop(scene, layout_rng, kind, {radius * std::cos(angle), radius * std::sin(angle), 0},
             layout_rng.uniform(0, 2 * kPi), prop_size, richness, images);
  }
}

// The orbit: an arc around target at distance with smooth radius / height / aim / roll wobble.
// Returns the arc (radians, signed).
float add_orbit_cameras(GeneratedClip& clip, const GenerationParams& params, Rng& camera_rng,
                        Vec3 target, float distance, float group_radius, double fov_x) {
  const auto motion = static_cast<float>(params.motion);
  const float azimuth0 = camera_rng.uniform(0, 2 * kPi);
  const float arc =
      motion * radians(camera_rng.uniform(40, 160)) * (camera_rng.chance(0.5f) ? 1.0f : -1.0f);
  const float elevation0 = radians(camera_rng.uniform(12, 40));
  const SmoothSignal radius_wobble(camera_rng, 0.7f), height_wobble(camera_rng, 0.6f),
      aim_x(camera_rng, 0.8f), aim_y(camera_rng, 0.8f), aim_z(camera_rng, 0.8f),
      roll_wobble(camera_rng, 1.0f);
  const float roll0 = radians(camera_rng.uniform(-3, 3));
  for (int i = 0; i < params.frames; ++i) {
    const float s =
        params.frames > 1 ? static_cast<float>(i) / static_cast<float>(params.frames - 1) : 0.0f;
    const float azimuth = azimuth0 + arc * s;
    const float r = distance * (1.0f + 0.1f * std::min(motion, 2.0f) * radius_wobble.at(s));
    const float elevation =
        std::clamp(elevation0 + radians(8.0f) * std::min(motion, 2.0f) * height_wobble.at(s),
                   radians(3.0f), radians(70.0f));
    Vec3 eye = target + Vec3{r * std::cos(elevation) * std::cos(azimuth),
                             r * std::cos(elevation) * std::sin(azimuth), r * std::sin(elevation)};
    eye.z = std::max(eye.z, 0.15f);
    const Vec3 aim = target + Vec3{aim_x.at(s), aim_y.at(s), aim_z.at(s)} * (0.08f * group_radius);
    const float roll = roll0 + radians(2.0f) * motion * roll_wobble.at(s);
    clip.cameras.push_back(make_camera(params.width, params.height, fov_x, eye, aim - eye, roll));
  }
  return arc;
}

}  // namespace

GeneratedClip generate_objects_clip(
    const GenerationParams& params, Rng rng, const std::vector<MeshAsset>& meshes,
    const std::vector<std::shared_ptr<const TextureImage>>& images) {
  GeneratedClip clip;
  Scene& scene = clip.scene;
  const auto richness = static_cast<float>(params.texture_richness);
  Rng light_rng = rng.fork(1), layout_rng = rng.fork(2), camera_rng = rng.fork(3);
  set_outdoor_light(scene, light_rng);

  // Ground: a large textured square; beyond its edge the sky shows (invalid depth).
  Rng ground_rng = rng.fork(4);
  scene.objects.push_back(SceneObject{
      "ground", make_heightfield(40.0f, 1, [](float, float) { return 0.0f; }),
      random_material(ground_rng, MaterialStyle::kGround, richness, images), ObjectRole::kGround});

  // Main subject.
  const float size = layout_rng.uniform(0.4f, 1.2f);
  const float yaw = layout_rng.uniform(0, 2 * kPi);
  std::string subject;
  if (!meshes.empty() && layout_rng.chance(0.75f)) {
    const MeshAsset& asset = meshes[static_cast<std::size_t>(
        layout_rng.integer(0, static_cast<int>(meshes.size()) - 1))];
    add_mesh_asset(scene, asset, {0, 0, 0}, yaw, size);
    subject = "mesh:" + asset.name;
  } else {
    const PropKind kind = pick(layout_rng, kObjectScaleProps);
    add_prop(scene, layout_rng, kind, {0, 0, 0}, yaw, size, richness, images);
    subject = "prop:" + std::to_string(static_cast<int>(kind));
  }
  PropBounds group = bounds_of(scene, 1);

  // Companions beside the subject.
  const int companions = layout_rng.integer(0, 2);
  for (int k = 0; k < companions; ++k) {
    const float angle = layout_rng.uniform(0, 2 * kPi);
    const float small = size * layout_rng.uniform(0.3f, 0.6f);
    const float reach = 0.5f * std::max(group.max.x - group.min.x, group.max.y - group.min.y) +
                        0.6f * small + 0.05f;
    const Vec3 base{reach * std::cos(angle), reach * std::sin(angle), 0};
    add_prop(scene, layout_rng, pick(layout_rng, kObjectScaleProps), base,
             layout_rng.uniform(0, 2 * kPi), small, richness, images);
    group = bounds_of(scene, 1);
  }

  // Camera distance: frame the group's bounding sphere at the chosen field of view.
  const double fov_x = radians(camera_rng.uniform(static_cast<float>(params.fov_min_deg),
                                                  static_cast<float>(params.fov_max_deg)));
  const double fov_min_axis =
      2 * std::atan(std::tan(0.5 * fov_x) *
                    std::min(1.0, static_cast<double>(params.height) / params.width));
  const Vec3 centre = (group.min + group.max) * 0.5f;
  const float group_radius = 0.5f * length(group.max - group.min);
  const float distance = std::max(group_radius / static_cast<float>(std::sin(0.5 * fov_min_axis)) *
                                      camera_rng.uniform(0.9f, 1.4f),
                                  group_radius + 0.4f);
  const Vec3 target{centre.x, centre.y, std::max(centre.z * camera_rng.uniform(0.6f, 1.0f), 0.05f)};

  add_background_props(scene, layout_rng, distance * 1.3f + 1.5f, richness, images);

  const float arc =
      add_orbit_cameras(clip, params, camera_rng, target, distance, group_radius, fov_x);
  clip.description = {{"layout", "object-orbit"},
                      {"subject", subject},
                      {"fov_x_deg", fov_x * 180.0 / kPi},
                      {"orbit_distance_m", distance},
                      {"orbit_arc_deg", arc * 180.0f / kPi}};
  return clip;
}

}  // namespace vidprobe::render
