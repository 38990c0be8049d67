#include "vidprobe/render/tracer.h"

#include <embree3/rtcore.h>

#include <array>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

#include "vidprobe/core/cpu_cores.h"
#include "vidprobe/core/error.h"

namespace vidprobe::render {
namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();

// One Embree device for the process. The BVH builder runs on one thread: builds are then
// bit-for-bit reproducible (the BVH decides which of two triangles sharing an edge a ray hits)
// and our own render threads are the parallelism that matters.
RTCDevice shared_device() {
  static const std::unique_ptr<RTCDeviceTy, decltype(&rtcReleaseDevice)> device = [] {
    RTCDevice created = rtcNewDevice("threads=1,set_affinity=0,verbose=0");
    if (!created) {
      throw Error("Embree could not create a device (error " +
                  std::to_string(static_cast<int>(rtcGetDeviceError(nullptr))) + ")");
    }
    return std::unique_ptr<RTCDeviceTy, decltype(&rtcReleaseDevice)>(created, &rtcReleaseDevice);
  }();
  return device.get();
}

// Linear radiance -> 8-bit sRGB by table lookup (pow per channel would cost as much as a ray).
// Values above kKnee roll off smoothly toward white instead of clipping, so sunlit bright
// surfaces keep some texture.
class SrgbEncoder {
 public:
  SrgbEncoder() {
    for (int i = 0; i < kSize; ++i) {
      const float x = kMaxInput * static_cast<float>(i) / (kSize - 1);
      const float c =
          x < kKnee ? x : kKnee + (1 - kKnee) * (1 - std::exp(-(x - kKnee) / (1 - kKnee)));
      const float s = c <= 0.0031308f ? 12.92f * c : 1.055f * std::pow(c, 1 / 2.4f) - 0.055f;
      table_[i] = static_cast<std::uint8_t>(std::lround(std::clamp(s, 0.0f, 1.0f) * 255.0f));
    }
  }
  std::uint8_t operator()(float linear) const {
    const float c = std::clamp(linear, 0.0f, kMaxInput);
    return table_[static_cast<int>(c * ((kSize - 1) / kMaxInput) + 0.5f)];
  }

 private:
  static constexpr int kSize = 16384;
  static constexpr float kMaxInput = 4.0f, kKnee = 0.7f;
  std::array<std::uint8_t, kSize> table_{};
};

const SrgbEncoder& srgb_encoder() {
  static const SrgbEncoder encoder;
  return encoder;
}

struct CameraRays {
  double R[9];  // world-from-camera rotation = R_cw^T (row-major)
  Vec3 centre;
  double fx, fy, cx, cy;

  explicit CameraRays(const Camera& camera) {
    const auto& E = camera.cam_from_world;
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) R[r * 3 + c] = E[c * 4 + r];
    }
    const double t[3] = {E[3], E[7], E[11]};
    centre = Vec3{static_cast<float>(-(R[0] * t[0] + R[1] * t[1] + R[2] * t[2])),
                  static_cast<float>(-(R[3] * t[0] + R[4] * t[1] + R[5] * t[2])),
                  static_cast<float>(-(R[6] * t[0] + R[7] * t[1] + R[8] * t[2]))};
    fx = camera.K[0];
    fy = camera.K[4];
    cx = camera.K[2];
    cy = camera.K[5];
    require(fx > 0 && fy > 0, "camera focal lengths must be positive");
  }
  // World direction whose camera z component is 1, so the hit distance equals the z-depth.
  Vec3 direction(int u, int v) const {
    const double x = (u - cx) / fx, y = (v - cy) / fy;
    return Vec3{static_cast<float>(R[0] * x + R[1] * y + R[2]),
                static_cast<float>(R[3] * x + R[4] * y + R[5]),
                static_cast<float>(R[6] * x + R[7] * y + R[8])};
  }
};

Vec3 sky_color(const Scene& scene, Vec3 direction) {
  const float elevation = direction.z;
  Vec3 color = elevation >= 0
                   ? lerp(scene.sky_horizon, scene.sky_zenith, std::sqrt(std::min(elevation, 1.0f)))
                   : scene.sky_horizon * (1.0f - 0.5f * std::min(-elevation * 3, 1.0f));
  if (scene.light.kind == Light::Kind::kSun) {
    const float facing = dot(direction, scene.light.direction);
    if (facing > 0.9f) {
      const float glow = std::pow((facing - 0.9f) / 0.1f, 8.0f);
      color += scene.light.color * (0.25f * glow);
    }
  }
  return color;
}

// Random unit offset in a disc perpendicular to axis, from a pixel hash (soft shadows).
Vec3 jitter_in_cone(Vec3 axis, float radius, std::uint64_t key) {
  const Vec3 helper = std::abs(axis.z) < 0.9f ? Vec3{0, 0, 1} : Vec3{1, 0, 0};
  const Vec3 t1 = normalize(cross(axis, helper));
  const Vec3 t2 = cross(axis, t1);
  const float r = radius * std::sqrt(hash_to_unit(key));
  const float phi = 2 * kPi * hash_to_unit(mix64(key + 1));
  return axis + t1 * (r * std::cos(phi)) + t2 * (r * std::sin(phi));
}

// A ray to intersect: the primary ray of a pixel is the camera centre along its unnormalised
// direction, so the hit distance t is the z-depth.
RTCRayHit primary_ray(Vec3 origin, Vec3 direction, float max_distance = kInfinity) {
  RTCRayHit query{};
  query.ray.org_x = origin.x;
  query.ray.org_y = origin.y;
  query.ray.org_z = origin.z;
  query.ray.dir_x = direction.x;
  query.ray.dir_y = direction.y;
  query.ray.dir_z = direction.z;
  query.ray.tnear = 0;
  query.ray.tfar = max_distance;
  query.ray.mask = 0xFFFFFFFFu;
  query.hit.geomID = RTC_INVALID_GEOMETRY_ID;
  query.hit.instID[0] = RTC_INVALID_GEOMETRY_ID;
  return query;
}

// The fraction of shadow rays from `origin` toward the light that nothing blocks; with a soft
// light, the rays are jittered over its cone, keyed by pixel and sample (same result every run).
float shadow_visibility(RTCScene scene, RTCIntersectContext& context, const Light& light,
                        Vec3 origin, Vec3 to_light, float light_distance, int shadow_samples,
                        std::uint64_t pixel_key, std::uint64_t& rays) {
  int unoccluded = 0;
  for (int s = 0; s < shadow_samples; ++s) {
    Vec3 target = to_light;
    float max_t = light_distance;
    if (light.softness > 0 && shadow_samples > 1) {
      const std::uint64_t key = hash_combine(pixel_key, static_cast<std::uint64_t>(s));
      if (light.kind == Light::Kind::kSun) {
        target = normalize(jitter_in_cone(to_light, light.softness, key));
      } else {
        const Vec3 p = light.position + jitter_in_cone(to_light, light.softness, key) - to_light;
        target = normalize(p - origin);
        max_t = length(p - origin);
      }
    }
    RTCRay shadow{};
    shadow.org_x = origin.x;
    shadow.org_y = origin.y;
    shadow.org_z = origin.z;
    shadow.dir_x = target.x;
    shadow.dir_y = target.y;
    shadow.dir_z = target.z;
    shadow.tnear = 0;
    shadow.tfar = std::isfinite(max_t) ? max_t * 0.999f : kInfinity;
    shadow.mask = 0xFFFFFFFFu;
    rtcOccluded1(scene, &context, &shadow);
    ++rays;
    if (shadow.tfar >= 0) ++unoccluded;
  }
  return static_cast<float>(unoccluded) / static_cast<float>(shadow_samples);
}

}  // namespace

struct SceneTracer::Impl {
  RTCScene scene = nullptr;
  ~Impl() {
    if (scene) rtcReleaseScene(scene);
  }
};

SceneTracer::SceneTracer(const Scene& scene) : scene_(scene), impl_(std::make_unique<Impl>()) {
  RTCDevice device = shared_device();
  impl_->scene = rtcNewScene(device);
  rtcSetSceneFlags(impl_->scene, RTC_SCENE_FLAG_ROBUST);
  rtcSetSceneBuildQuality(impl_->scene, RTC_BUILD_QUALITY_MEDIUM);
  for (std::size_t i = 0; i < scene.objects.size(); ++i) {
    const TriangleMesh& mesh = scene.objects[i].mesh;
    require(
        mesh.normals.size() == mesh.positions.size() && mesh.uvs.size() == mesh.positions.size(),
        "object '" + scene.objects[i].name + "' has inconsistent vertex attributes");
    RTCGeometry geometry = rtcNewGeometry(device, RTC_GEOMETRY_TYPE_TRIANGLE);
    auto* vertices = static_cast<float*>(
        rtcSetNewGeometryBuffer(geometry, RTC_BUFFER_TYPE_VERTEX, 0, RTC_FORMAT_FLOAT3,
                                3 * sizeof(float), mesh.positions.size()));
    for (std::size_t v = 0; v < mesh.positions.size(); ++v) {
      vertices[3 * v] = mesh.positions[v].x;
      vertices[3 * v + 1] = mesh.positions[v].y;
      vertices[3 * v + 2] = mesh.positions[v].z;
    }
    auto* indices = static_cast<std::uint32_t*>(
        rtcSetNewGeometryBuffer(geometry, RTC_BUFFER_TYPE_INDEX, 0, RTC_FORMAT_UINT3,
                                3 * sizeof(std::uint32_t), mesh.triangles.size()));
    for (std::size_t t = 0; t < mesh.triangles.size(); ++t) {
      for (int k = 0; k < 3; ++k) {
        require(mesh.triangles[t][k] < mesh.positions.size(),
                "object '" + scene.objects[i].name + "' has an out-of-range vertex index");
        indices[3 * t + k] = mesh.triangles[t][k];
      }
    }
    rtcCommitGeometry(geometry);
    rtcAttachGeometryByID(impl_->scene, geometry, static_cast<unsigned>(i));
    rtcReleaseGeometry(geometry);
  }
  rtcCommitScene(impl_->scene);
  const RTCError error = rtcGetDeviceError(device);
  require(error == RTC_ERROR_NONE, "Embree failed to build the scene (error " +
                                       std::to_string(static_cast<int>(error)) + ")");
}

SceneTracer::~SceneTracer() = default;

float SceneTracer::first_hit(Vec3 origin, Vec3 direction, float max_distance) const {
  RTCIntersectContext context;
  rtcInitIntersectContext(&context);
  RTCRayHit query = primary_ray(origin, direction, max_distance);
  rtcIntersect1(impl_->scene, &context, &query);
  rays_traced_.fetch_add(1, std::memory_order_relaxed);
  return query.hit.geomID == RTC_INVALID_GEOMETRY_ID ? kInfinity : query.ray.tfar;
}

Frame allocate_frame(const Camera& camera) {
  Frame frame;
  frame.camera = camera;
  frame.rgb = ImageU8(camera.width, camera.height, 3);
  frame.depth = ImageF32(camera.width, camera.height, 1);
  frame.valid = ImageU8(camera.width, camera.height, 1);
  return frame;
}

// One loop over the pixels of the rows, ~95 lines: the shading steps of a hit (surface, light,
// shadows, specular, fog) share its locals, and splitting them would pass a dozen values per
// pixel; ray setup and the shadow rays are functions of their own.
void SceneTracer::render_rows(const Camera& camera, const ShadingOptions& options, int row_begin,
                              int row_end, Frame& frame) const {
  const CameraRays camera_rays(camera);
  const Scene& scene = scene_;
  const Light& light = scene.light;
  const SrgbEncoder& encode = srgb_encoder();
  const float inverse_focal = static_cast<float>(1.0 / std::sqrt(camera_rays.fx * camera_rays.fy));
  const int shadow_samples = options.shadows ? std::max(1, options.shadow_samples) : 0;
  // Per-camera key so soft-shadow jitter differs between frames but not between runs.
  std::uint64_t camera_key = 0x1234567;
  for (double e : camera.cam_from_world)
    camera_key = hash_combine(camera_key, std::hash<double>{}(e));

  RTCIntersectContext primary_context;
  rtcInitIntersectContext(&primary_context);
  primary_context.flags = RTC_INTERSECT_CONTEXT_FLAG_COHERENT;
  RTCIntersectContext shadow_context;
  rtcInitIntersectContext(&shadow_context);
  std::uint64_t rays = 0;

  for (int v = row_begin; v < row_end; ++v) {
    for (int u = 0; u < camera.width; ++u) {
      const Vec3 direction = camera_rays.direction(u, v);
      const float direction_length = length(direction);
      const Vec3 view = direction / direction_length;
      RTCRayHit query = primary_ray(camera_rays.centre, direction);
      rtcIntersect1(impl_->scene, &primary_context, &query);
      ++rays;

      Vec3 color;
      if (query.hit.geomID == RTC_INVALID_GEOMETRY_ID) {
        color = sky_color(scene, view);
        frame.depth.at(u, v) = 0.0f;
        frame.valid.at(u, v) = 0;
      } else {
        const float z_depth = query.ray.tfar;
        const SceneObject& object = scene.objects[query.hit.geomID];
        const TriangleMesh& mesh = object.mesh;
        const auto& tri = mesh.triangles[query.hit.primID];
        const float b1 = query.hit.u, b2 = query.hit.v, b0 = 1.0f - b1 - b2;
        const Vec3 position = camera_rays.centre + direction * z_depth;
        Vec3 geometric = normalize(Vec3{query.hit.Ng_x, query.hit.Ng_y, query.hit.Ng_z});
        if (dot(geometric, view) > 0) geometric = -geometric;
        Vec3 normal = normalize(mesh.normals[tri[0]] * b0 + mesh.normals[tri[1]] * b1 +
                                mesh.normals[tri[2]] * b2);
        if (dot(normal, geometric) < 0) normal = -normal;
        SurfacePoint surface;
        surface.position = position;
        surface.u = mesh.uvs[tri[0]][0] * b0 + mesh.uvs[tri[1]][0] * b1 + mesh.uvs[tri[2]][0] * b2;
        surface.v = mesh.uvs[tri[0]][1] * b0 + mesh.uvs[tri[1]][1] * b1 + mesh.uvs[tri[2]][1] * b2;
        const float grazing = std::max(std::abs(dot(geometric, view)), 0.2f);
        surface.footprint = z_depth * inverse_focal * direction_length / grazing;
        const Vec3 albedo = evaluate(object.material.texture, surface);

        // Light direction and unshadowed intensity.
        Vec3 to_light = light.direction;
        float light_distance = kInfinity;
        Vec3 intensity = light.color;
        if (light.kind == Light::Kind::kPoint) {
          const Vec3 offset = light.position - position;
          light_distance = length(offset);
          to_light = offset / light_distance;
          intensity = light.color / std::max(light_distance * light_distance, 1.0f);
        }
        float lit = dot(geometric, to_light) > 0 ? std::max(dot(normal, to_light), 0.0f) : 0.0f;
        float visibility = 1.0f;
        if (lit > 0 && shadow_samples > 0) {
          const Vec3 origin = position + geometric * (1e-3f * std::max(1.0f, z_depth));
          const std::uint64_t pixel_key = hash_combine(
              camera_key, static_cast<std::uint64_t>(v) * 65536u + static_cast<std::uint64_t>(u));
          visibility = shadow_visibility(impl_->scene, shadow_context, light, origin, to_light,
                                         light_distance, shadow_samples, pixel_key, rays);
        }
        const float up = 0.5f + 0.5f * normal.z;
        const Vec3 ambient = lerp(scene.ground_bounce, scene.ambient, up);
        color = albedo * (ambient + intensity * (lit * visibility));
        if (lit > 0 && visibility > 0 && object.material.specular > 0) {
          const Vec3 half = normalize(to_light - view);
          const float highlight =
              std::pow(std::max(dot(normal, half), 0.0f), object.material.shininess);
          color += intensity * (object.material.specular * highlight * visibility);
        }
        if (scene.fog_distance > 0) {
          const float fog = 1.0f - std::exp(-z_depth * direction_length / scene.fog_distance);
          color = lerp(color, scene.sky_horizon, fog);
        }
        frame.depth.at(u, v) = z_depth;
        frame.valid.at(u, v) = 1;
      }
      color = color * scene.exposure;
      frame.rgb.at(u, v, 0) = encode(color.x);
      frame.rgb.at(u, v, 1) = encode(color.y);
      frame.rgb.at(u, v, 2) = encode(color.z);
    }
  }
  rays_traced_.fetch_add(rays, std::memory_order_relaxed);
}

int render_threads(int threads) {
  return threads > 0 ? threads : cores_for_this_process();
}

std::vector<Frame> render_frames(const SceneTracer& tracer, const std::vector<Camera>& cameras,
                                 const ShadingOptions& options, int threads) {
  constexpr int kRowsPerTask = 8;
  std::vector<Frame> frames;
  frames.reserve(cameras.size());
  std::vector<std::pair<std::size_t, int>> tasks;  // (frame, first row)
  for (std::size_t f = 0; f < cameras.size(); ++f) {
    frames.push_back(allocate_frame(cameras[f]));
    for (int row = 0; row < cameras[f].height; row += kRowsPerTask) tasks.emplace_back(f, row);
  }
  const int workers =
      std::max(1, std::min(render_threads(threads), static_cast<int>(tasks.size())));
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < tasks.size(); i = next++) {
      const auto [f, row] = tasks[i];
      try {
        tracer.render_rows(cameras[f], options, row,
                           std::min(row + kRowsPerTask, cameras[f].height), frames[f]);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = tasks.size();
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    for (int t = 1; t < workers; ++t) pool.emplace_back(work);
    work();
  }
  if (failure) std::rethrow_exception(failure);
  return frames;
}

}  // namespace vidprobe::render
